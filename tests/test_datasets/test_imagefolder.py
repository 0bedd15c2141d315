"""ImageFolderDataset and the synthetic generator: layout, transforms, and errors that name the path."""

import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from convnext_dense.datasets import ImageFolderDataset
from convnext_dense.datasets.synthetic import SHAPES, TEXTURES, ade, draw, generate_imagefolder, imagefolder
from convnext_dense.errors import DataError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_reads_the_imagenet_layout(tiny_folder):
    ds = ImageFolderDataset(
        tiny_folder, 'train', transform=dict(input_size=24, interpolation='bicubic', crop_pct=0.875)
    )
    assert len(ds) == 8 and ds.metainfo['classes'] == ('circle', 'square')
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert labels == [0, 0, 0, 0, 1, 1, 1, 1]
    item = ds[5]
    assert item['inputs'].shape == (3, 24, 24) and item['inputs'].dtype == torch.uint8
    assert int(item['data_samples'].gt_label) == 1
    assert item['data_samples'].img_path.endswith(osp.join('train', 'square', '000001.jpg'))
    assert torch.equal(ds[5]['inputs'], item['inputs'])  # evaluation transform: deterministic


def test_training_transform_is_timm_randaugment(tiny_folder):
    ds = ImageFolderDataset(
        tiny_folder,
        'train',
        transform=dict(input_size=32, is_training=True, auto_augment='rand-m9-mstd0.5-inc1', interpolation='bicubic'),
    )
    names = [type(t).__name__ for t in ds.transform.transforms]
    assert names == ['RandomResizedCropAndInterpolation', 'RandomHorizontalFlip', 'RandAugment', 'MaybePILToTensor']
    torch.manual_seed(0)
    views = [ds[0]['inputs'] for _ in range(4)]
    assert all(v.shape == (3, 32, 32) for v in views)
    assert any(not torch.equal(views[0], v) for v in views[1:])


def test_randaugment_posterize_to_zero_bits_gives_black_not_an_error(tiny_folder):
    """Magnitude 10 of 'inc1' posterize keeps 0 bits; Pillow >= 13 raises on that inside timm."""
    ds = ImageFolderDataset(
        tiny_folder, 'train', transform=dict(input_size=32, is_training=True, auto_augment='rand-m9-mstd0.5-inc1')
    )
    (op,) = [op for op in ds.transform.transforms[2].ops if op.name == 'PosterizeIncreasing']
    op.prob, op.magnitude, op.magnitude_std = 1.0, 10, 0
    img = Image.open(osp.join(tiny_folder, 'train', 'circle', '000000.jpg')).convert('RGB')
    assert np.asarray(op(img)).max() == 0
    op.magnitude = 5  # 2 bits: an ordinary posterize
    assert set(np.unique(np.asarray(op(img)))) <= {0, 64, 128, 192}


def test_missing_split_folder_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'val'}.*does not exist.*make_demo_data.py cls"):
        ImageFolderDataset(str(tmp_path), 'val')


def test_split_without_class_folders(tmp_path):
    (tmp_path / 'train').mkdir()
    with pytest.raises(FileNotFoundError, match='holds no class folders'):
        ImageFolderDataset(str(tmp_path), 'train')


def test_empty_class_folder_names_the_folder(tiny_folder, tmp_path):
    shutil.copytree(tiny_folder, tmp_path / 'd')
    (tmp_path / 'd' / 'val' / 'hexagon').mkdir()
    with pytest.raises(ValueError, match=f"class folder '{tmp_path / 'd' / 'val' / 'hexagon'}' holds no images"):
        ImageFolderDataset(str(tmp_path / 'd'), 'val')


def test_unreadable_image_names_the_file(tiny_folder, tmp_path):
    shutil.copytree(tiny_folder, tmp_path / 'd')
    bad = tmp_path / 'd' / 'val' / 'circle' / '000000.jpg'
    bad.write_bytes(b'not a jpeg')
    ds = ImageFolderDataset(str(tmp_path / 'd'), 'val', transform=dict(input_size=32))
    with pytest.raises(DataError, match=f"cannot read image '{bad}'"):
        ds[0]
    assert ds[1]['inputs'].shape == (3, 32, 32)


def test_classes_must_match_the_folders(tiny_folder):
    ds = ImageFolderDataset(tiny_folder, 'val', classes=('circle', 'square'))
    assert ds.metainfo['classes'] == ('circle', 'square')
    with pytest.raises(ValueError, match=r"missing \['star'\], not in classes \['square'\]"):
        ImageFolderDataset(tiny_folder, 'val', classes=('circle', 'star'))


def test_preprocessor_options_in_transform_are_rejected(tiny_folder):
    with pytest.raises(ValueError, match=r"\['re_prob'\] are not applied here.*ClsDataPreprocessor"):
        ImageFolderDataset(tiny_folder, 'train', transform=dict(input_size=32, re_prob=0.25))


def test_generator_is_deterministic_and_counts(tmp_path):
    a = generate_imagefolder(
        str(tmp_path / 'a'), num_classes=3, num_train_per_class=2, num_val_per_class=1, image_size=20, seed=7
    )
    generate_imagefolder(
        str(tmp_path / 'b'), num_classes=3, num_train_per_class=2, num_val_per_class=1, image_size=20, seed=7
    )
    assert a['classes'] == SHAPES[:3] and (a['train'], a['val']) == (6, 3)
    assert sorted(os.listdir(tmp_path / 'a' / 'train')) == sorted(SHAPES[:3])
    for rel in ('train/triangle/000001.jpg', 'val/circle/000000.jpg'):
        assert (tmp_path / 'a' / rel).read_bytes() == (tmp_path / 'b' / rel).read_bytes()
    assert (tmp_path / 'a/train/circle/000000.jpg').read_bytes() != (tmp_path / 'a/val/circle/000000.jpg').read_bytes()
    with pytest.raises(ValueError, match=r'num_classes=14 must be in 2\.\.13'):
        generate_imagefolder(str(tmp_path / 'c'), num_classes=14)


def test_classes_are_the_shapes_then_the_segmentation_textures(tmp_path):
    """The default set: 8 shape kinds, then one class per segmentation-demo class (a field of its texture)."""
    assert imagefolder.CLASSES == SHAPES + ade.CLASSES and TEXTURES == ade.CLASSES and len(imagefolder.CLASSES) == 13
    info = generate_imagefolder(str(tmp_path / 'd'), num_train_per_class=1, num_val_per_class=1, image_size=24)
    assert info['classes'] == imagefolder.CLASSES and (info['train'], info['val']) == (13, 13)
    assert sorted(os.listdir(tmp_path / 'd' / 'val')) == sorted(imagefolder.CLASSES)
    # A texture class's image is the segmentation demo's texture, drawn by the one shared function.
    for kind in TEXTURES:
        image = imagefolder.render_image(np.random.default_rng(5), kind, 24)
        field = draw.texture(np.random.default_rng(5), kind, 24, 24)
        assert image.shape == (24, 24, 3) and image.dtype == np.uint8
        assert np.array_equal(image, np.clip(np.round(field), 0, 255).astype(np.uint8)), kind
    stripes = imagefolder.render_image(np.random.default_rng(0), 'stripes', 64).astype(np.float32)
    assert stripes.std() > 20  # two colours at least 90 apart: a visible texture, not a flat field
    circle = imagefolder.render_image(np.random.default_rng(5), 'circle', 24)
    assert np.array_equal(circle, imagefolder.render_shape(np.random.default_rng(5), 'circle', 24))


def test_make_demo_data_cls_command(tmp_path):
    out = tmp_path / 'cls'
    res = subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, 'tools', 'make_demo_data.py'),
            'cls',
            '--out',
            str(out),
            '--num-classes',
            '2',
            '--train-per-class',
            '2',
            '--val-per-class',
            '1',
            '--image-size',
            '16',
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout[: res.stdout.rindex('}') + 1])
    assert (summary['train'], summary['val'], summary['classes']) == (4, 2, ['circle', 'square'])
    assert sorted(os.listdir(out / 'val')) == ['circle', 'square']
