"""The synthetic COCO generator writes valid, consistent, deterministic COCO instance data."""

import hashlib
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from convnext_dense.datasets.synthetic.coco import CLASSES, HUES, generate_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('synthetic_coco'))
    info = generate_coco(out, num_train=24, num_val=10, image_size=(80, 96), seed=3, empty_prob=0.25)
    return out, info


def _coco(path):
    return COCO(path)


@pytest.mark.parametrize('split', ['train', 'val'])
def test_pycocotools_reads_it_and_images_match(dataset, split):
    out, info = dataset
    coco = _coco(info[split]['ann_file'])
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
    assert len(coco.getImgIds()) == info[split]['images'] == (24 if split == 'train' else 10)
    ann_ids = [a['id'] for a in coco.dataset['annotations']]
    assert len(ann_ids) == len(set(ann_ids)) == info[split]['annotations'] > 0
    for img in coco.loadImgs(coco.getImgIds()):
        pixels = cv2.imread(osp.join(out, split, img['file_name']))
        assert pixels is not None and pixels.shape == (img['height'], img['width'], 3) == (80, 96, 3)


def test_area_bbox_and_iscrowd_agree_with_the_masks(dataset):
    _, info = dataset
    coco = _coco(info['train']['ann_file'])
    areas = []
    for ann in coco.dataset['annotations']:
        mask = coco.annToMask(ann)
        ys, xs = np.nonzero(mask)
        assert ann['iscrowd'] == 0 and isinstance(ann['segmentation'], list) and ann['segmentation']
        assert all(len(poly) >= 6 and len(poly) % 2 == 0 for poly in ann['segmentation'])
        assert ann['area'] == mask.sum() > 0
        x, y, w, h = ann['bbox']
        assert (x, y, x + w - 1, y + h - 1) == (xs.min(), ys.min(), xs.max(), ys.max())
        assert 1 <= ann['category_id'] <= len(CLASSES)
        areas.append(ann['area'])
    assert max(areas) > 4 * min(areas), 'object sizes should vary'


def test_occluded_objects_are_annotated_by_their_visible_part(dataset):
    _, info = dataset
    coco = _coco(info['train']['ann_file'])
    overlapping_images = 0
    for img_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id]))
        if len(anns) < 2:
            continue
        masks = np.stack([coco.annToMask(a) for a in anns]).astype(int)
        boxes = [a['bbox'] for a in anns]
        ious = mask_utils.iou(boxes, boxes, [0] * len(boxes))
        overlapping_images += int((ious[np.triu_indices(len(boxes), 1)] > 0).any())
        # Visible parts do not overlap (up to boundary pixels shared by the traced polygons).
        assert (masks.sum(0) > 1).sum() <= 0.05 * masks.sum()
    assert overlapping_images > 0, 'some objects should overlap'


def test_each_class_keeps_its_colour_family(dataset):
    """An object's median hue (over its visible pixels, JPEG and textures included) is its class's hue
    +-25 degrees, plus a margin; the other four families are at least 72 degrees away."""
    out, info = dataset
    coco = _coco(info['train']['ann_file'])
    checked = 0
    for ann in coco.dataset['annotations']:
        img = coco.loadImgs(ann['image_id'])[0]
        mask = coco.annToMask(ann).astype(bool)
        if mask.sum() < 40:
            continue
        hsv = cv2.cvtColor(cv2.imread(osp.join(out, 'train', img['file_name'])), cv2.COLOR_BGR2HSV_FULL)
        hue = np.median(hsv[..., 0][mask].astype(np.float64)) * 360 / 256
        target = HUES[CLASSES[ann['category_id'] - 1]]
        assert abs((hue - target + 180) % 360 - 180) <= 40, (img['file_name'], ann['id'], hue, target)
        checked += 1
    assert checked >= 20


def test_some_images_are_empty_and_val_is_not_train(dataset):
    out, info = dataset
    for split in ('train', 'val'):
        coco = _coco(info[split]['ann_file'])
        empty = [i for i in coco.getImgIds() if not coco.getAnnIds(imgIds=[i])]
        assert len(empty) == info[split]['empty_images']
    assert info['train']['empty_images'] > 0

    def digests(split, n):
        return {hashlib.md5(open(osp.join(out, split, f'{i:06d}.jpg'), 'rb').read()).hexdigest() for i in range(1, n)}

    assert not digests('train', 25) & digests('val', 11)


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    kwargs = dict(num_train=4, num_val=2, image_size=64)
    generate_coco(str(tmp_path / 'a'), seed=7, **kwargs)
    generate_coco(str(tmp_path / 'b'), seed=7, **kwargs)
    generate_coco(str(tmp_path / 'c'), seed=8, **kwargs)
    for rel in (
        'annotations/instances_train.json',
        'annotations/instances_val.json',
        'train/000001.jpg',
        'val/000002.jpg',
    ):
        assert (tmp_path / 'a' / rel).read_bytes() == (tmp_path / 'b' / rel).read_bytes(), rel
    assert (tmp_path / 'a' / 'train/000001.jpg').read_bytes() != (tmp_path / 'c' / 'train/000001.jpg').read_bytes()


@pytest.mark.parametrize(
    'kwargs, match',
    [
        (dict(image_size=16), 'image_size'),
        (dict(num_train=0), 'num_train'),
        (dict(size_range=(0.5, 0.2)), 'size_range'),
        (dict(max_objects=0), 'max_objects'),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_coco(str(tmp_path), **kwargs)


def test_make_demo_data_coco_command(tmp_path):
    out = tmp_path / 'coco'
    proc = subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, 'tools', 'make_demo_data.py'),
            'coco',
            '--out',
            str(out),
            '--num-train',
            '3',
            '--num-val',
            '2',
            '--image-size',
            '64',
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    train = json.loads((out / 'annotations' / 'instances_train.json').read_text())
    assert len(train['images']) == 3 and (out / 'val' / '000002.jpg').is_file()
