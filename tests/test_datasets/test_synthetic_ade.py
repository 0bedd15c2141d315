"""The synthetic ADE20K-format dataset: layout, label convention, determinism, and mmseg reading it."""

import hashlib
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from convnext_dense.datasets.synthetic.ade import CLASSES, generate_ade, split_files

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _digest(root):
    """sha256 of every file under ``root``, keyed by relative path."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synthetic_ade'))
    return root, generate_ade(root, num_train=12, num_val=6, image_size=64, seed=0)


def test_layout_and_counts(data):
    root, info = data
    for split, folder, prefix, count in (('train', 'training', 'ADE_train_', 12), ('val', 'validation', 'ADE_val_', 6)):
        images = sorted(os.listdir(osp.join(root, 'images', folder)))
        labels = sorted(os.listdir(osp.join(root, 'annotations', folder)))
        assert len(images) == len(labels) == count == info[split]['images']
        assert all(n.startswith(prefix) and n.endswith('.jpg') for n in images)
        assert [n[:-4] for n in images] == [n[:-4] for n in labels]  # every image has its label
    assert info['classes'] == CLASSES


def test_images_and_labels_match(data):
    root, _ = data
    sizes, values = set(), set()
    for split in ('train', 'val'):
        for img_path, seg_path in split_files(root, split):
            with Image.open(img_path) as img, Image.open(seg_path) as seg:
                assert img.mode == 'RGB' and img.format == 'JPEG'
                assert seg.mode == 'L' and seg.format == 'PNG'  # one channel of class indices
                assert img.size == seg.size, (img_path, img.size, seg.size)
                sizes.add(img.size)
                values.update(np.unique(np.asarray(seg)).tolist())
    # ADE20K's convention: 0 = other, classes are 1..len(CLASSES); nothing else
    assert values <= set(range(len(CLASSES) + 1))
    assert values == set(range(len(CLASSES) + 1)), f'every class and "other" should occur; got {sorted(values)}'
    assert len(sizes) > 5, "image sizes should vary as ADE20K's do"
    assert all(48 <= s <= 80 for size in sizes for s in size)  # 64 x [0.8, 1.25]


def test_pixel_counts_are_those_on_disk(data):
    root, info = data
    counts = np.zeros(len(CLASSES) + 1, np.int64)
    for _, seg_path in split_files(root, 'train'):
        counts += np.bincount(np.asarray(Image.open(seg_path)).ravel(), minlength=len(CLASSES) + 1)
    assert dict(zip(('other',) + CLASSES, counts.tolist())) == info['train']['pixels']


def test_deterministic_given_seed(tmp_path, data):
    root, _ = data
    again = str(tmp_path / 'again')
    other = str(tmp_path / 'other')
    generate_ade(again, num_train=12, num_val=6, image_size=64, seed=0)
    generate_ade(other, num_train=12, num_val=6, image_size=64, seed=1)
    assert _digest(root) == _digest(again)
    different = _digest(other)
    assert different.keys() == _digest(root).keys()
    assert all(different[k] != v for k, v in _digest(root).items())


def test_val_is_held_out(data):
    root, _ = data
    digests = _digest(root)
    train = {v for k, v in digests.items() if 'training' in k}
    val = {v for k, v in digests.items() if 'validation' in k}
    assert not train & val


@pytest.mark.parametrize(
    'kwargs',
    [
        dict(num_train=0),
        dict(num_val=0),
        dict(image_size=16),
        dict(image_size=(64, 64, 3)),
        dict(max_objects=0),
        dict(other_prob=1.5),
    ],
)
def test_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError, match='generate_ade'):
        generate_ade(str(tmp_path), **{**dict(num_train=2, num_val=2, image_size=64), **kwargs})


def test_mmseg_reads_it_with_reduce_zero_label(data):
    """Through mmseg's ADE20K pipeline, on-disk k becomes k - 1 and 0 ("other") becomes 255 (ignored)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    import convnext_dense.datasets  # noqa: F401  (registers SyntheticADE20KDataset)

    init_default_scope('mmseg')
    root, _ = data
    dataset = DATASETS.build(
        dict(
            type='SyntheticADE20KDataset',
            data_root=root,
            data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', reduce_zero_label=True),
                dict(type='PackSegInputs'),
            ],
        )
    )
    assert len(dataset) == 12 and dataset.metainfo['classes'] == CLASSES
    assert len(dataset.metainfo['palette']) == len(CLASSES)
    other_pixels = 0
    for index, (_, seg_path) in enumerate(split_files(root, 'train')):
        on_disk = np.asarray(Image.open(seg_path)).astype(np.int64)
        gt = dataset[index]['data_samples'].gt_sem_seg.data[0].numpy().astype(np.int64)
        expected = np.where(on_disk == 0, 255, on_disk - 1)
        np.testing.assert_array_equal(gt, expected)
        other_pixels += int((gt[on_disk == 0] == 255).sum())
    assert other_pixels > 0, 'the fixture (seed 0) holds "other" pixels; they must have become 255'


def test_command_line(tmp_path):
    out = tmp_path / 'cli'
    result = subprocess.run(
        [
            sys.executable,
            'tools/make_demo_data.py',
            'ade',
            '--out',
            str(out),
            '--num-train',
            '3',
            '--num-val',
            '2',
            '--image-size',
            '48',
            '--seed',
            '3',
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(os.listdir(out / 'images' / 'training')) == 3
    assert len(os.listdir(out / 'annotations' / 'validation')) == 2
    assert '"classes"' in result.stdout
