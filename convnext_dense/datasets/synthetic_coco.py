"""A small synthetic instance-segmentation dataset in real COCO format, for demos and tests.

Images hold geometric shapes of random size, rotation, aspect, texture and colour on noisy, textured
backgrounds; shapes may overlap, and some images hold none. A class is its outline *and*, as for real
categories (bananas are mostly yellow), a colour family: its hue is the class's +-25 degrees, with
random saturation and brightness (``HUES``). With outline alone (random colours) the CPU demo's
Cascade Mask R-CNN reached box AP 26.1 in 10 minutes, with the colour families 58.0
(docs/demo_detection.md). The annotation files are ordinary COCO ``instances_*.json`` files
(polygon segmentations, ``iscrowd=0``) that pycocotools and mmdet's ``CocoDataset`` read unchanged:

    out_dir/
        train/000001.jpg ...
        val/000001.jpg ...
        annotations/instances_train.json
        annotations/instances_val.json

The segmentation of an occluded shape is its *visible* part, traced from the rendered mask with
OpenCV; ``area`` and ``bbox`` are computed by pycocotools from that segmentation, so they are
exactly what COCO evaluation decodes. Train and val are drawn from one distribution with
different random streams (no image is shared). Everything is a function of ``seed``.

Example:
    >>> from convnext_dense.datasets import generate_coco
    >>> info = generate_coco('data/synthetic_coco', num_train=8, num_val=4, image_size=96)
    >>> info['classes']
    ('circle', 'square', 'triangle', 'star', 'hexagon')
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from .synthetic_ade import hue_colour

CLASSES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'star', 'hexagon')
# Hue (degrees) of each class's colour family, spaced 72 degrees apart.
HUES: Dict[str, float] = {'circle': 0., 'square': 216., 'triangle': 72., 'star': 288., 'hexagon': 144.}

# Vertices of each shape on the unit circle (before scaling/rotation); a circle is a fine polygon.
_ANGLES = {
    'circle': np.linspace(0, 2 * np.pi, 48, endpoint=False),
    'square': np.linspace(0, 2 * np.pi, 4, endpoint=False) + np.pi / 4,
    'triangle': np.linspace(0, 2 * np.pi, 3, endpoint=False) - np.pi / 2,
    'star': np.linspace(0, 2 * np.pi, 10, endpoint=False) - np.pi / 2,
    'hexagon': np.linspace(0, 2 * np.pi, 6, endpoint=False),
}


def _shape_polygon(name: str, center: np.ndarray, radius: float, angle: float, aspect: float) -> np.ndarray:
    """Vertices (N, 2) in pixels: x, y."""
    theta = _ANGLES[name] + angle
    radii = np.full(theta.shape, radius)
    if name == 'star':
        radii[1::2] *= 0.45  # inner vertices
    pts = np.stack([np.cos(theta) * radii, np.sin(theta) * radii], axis=1)
    if name == 'circle':
        pts[:, 1] *= aspect  # circles become ellipses; other shapes keep their identity
    return pts + center


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random gradient, low-frequency blobs or stripes, plus pixel noise (uint8, HxWx3)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    direction = rng.uniform(0, 2 * np.pi)
    t = (np.cos(direction) * xx / w + np.sin(direction) * yy / h + 1) / 2
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    kind = rng.integers(3)
    if kind == 0:  # blurred blobs
        small = rng.uniform(-60, 60, (max(h // 16, 2), max(w // 16, 2), 3)).astype(np.float32)
        img += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    elif kind == 1:  # stripes
        period, phase = rng.uniform(6, 24), rng.uniform(0, 2 * np.pi)
        stripe_dir = rng.uniform(0, np.pi)
        img += 30 * np.sin((np.cos(stripe_dir) * xx + np.sin(stripe_dir) * yy) * 2 * np.pi / period + phase)[..., None]
    img += rng.normal(0, rng.uniform(4, 16), (h, w, 3))
    return img


def _fill(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray, color: np.ndarray) -> None:
    """Paint ``color`` (with a random texture: flat, noisy or stripes) where ``mask`` is set."""
    h, w = mask.shape
    texture = np.zeros((h, w, 1), np.float32)
    kind = rng.integers(3)
    if kind == 1:
        texture = rng.normal(0, 18, (h, w, 1))
    elif kind == 2:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        texture = 25 * np.sin((xx + yy) * 2 * np.pi / rng.uniform(4, 10))[..., None]
    sel = mask.astype(bool)
    img[sel] = (color + texture)[sel]


def contrasting_colour(rng: np.random.Generator, hue: float, background: np.ndarray,
                       min_distance: float = 80.) -> np.ndarray:
    """A colour of the family ``hue`` (see ``HUES``), at least ``min_distance`` (RGB L2) from the mean
    background under the shape if one of 20 draws is; else the draw farthest from it."""
    best, best_distance = None, -1.
    for _ in range(20):
        color = hue_colour(rng, hue)
        distance = np.linalg.norm(color - background)
        if distance >= min_distance:
            return color
        if distance > best_distance:
            best, best_distance = color, distance
    return best


def _polygons_from_mask(mask: np.ndarray) -> List[List[float]]:
    """Outer contours of a binary mask as COCO polygons (x0, y0, x1, y1, ...), fragments dropped."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for contour in contours:
        if len(contour) >= 3 and cv2.contourArea(contour) >= 4:
            polys.append([float(v) + 0.5 for v in contour.reshape(-1)])  # pixel centres
    return polys


def _render_image(rng: np.random.Generator, h: int, w: int, max_objects: int, empty_prob: float,
                  size_range: Tuple[float, float], max_occlusion: float) -> Tuple[np.ndarray, List[dict]]:
    """One image (uint8 BGR) and its objects: dict(category_id, segmentation)."""
    img = _background(rng, h, w)
    num = 0 if rng.random() < empty_prob else int(rng.integers(1, max_objects + 1))
    masks, labels = [], []
    for _ in range(num):
        for _attempt in range(10):
            name_idx = int(rng.integers(len(CLASSES)))
            radius = rng.uniform(*size_range) * min(h, w) / 2
            center = rng.uniform([radius * 0.6, radius * 0.6], [w - radius * 0.6, h - radius * 0.6])
            pts = _shape_polygon(CLASSES[name_idx], center, radius, rng.uniform(0, 2 * np.pi),
                                 rng.uniform(0.6, 1.0))
            mask = np.zeros((h, w), np.uint8)
            cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
            if mask.sum() < 16:
                continue
            # Overlaps are allowed, but a new shape may hide at most `max_occlusion` of an earlier one.
            if all((m & mask).sum() <= max_occlusion * m.sum() for m in masks):
                break
        else:
            continue
        background = img[mask.astype(bool)].mean(axis=0)
        _fill(rng, img, mask, contrasting_colour(rng, HUES[CLASSES[name_idx]], background))
        masks.append(mask)
        labels.append(name_idx + 1)
    objects = []
    for i, (mask, label) in enumerate(zip(masks, labels)):
        visible = mask.copy()
        for later in masks[i + 1:]:
            visible[later.astype(bool)] = 0
        polys = _polygons_from_mask(visible)
        if polys:
            objects.append(dict(category_id=label, segmentation=polys))
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.3, 1.0))
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img[..., ::-1].copy(), objects  # RGB -> BGR for cv2.imwrite


def _split(out_dir: str, split: str, num_images: int, rng: np.random.Generator, size_hw: Tuple[int, int],
           **render_kwargs) -> dict:
    os.makedirs(osp.join(out_dir, split), exist_ok=True)
    h, w = size_hw
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        file_name = f'{image_id:06d}.jpg'
        img, objects = _render_image(rng, h, w, **render_kwargs)
        cv2.imwrite(osp.join(out_dir, split, file_name), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        images.append(dict(id=image_id, file_name=file_name, height=h, width=w))
        for obj in objects:
            rle = mask_utils.merge(mask_utils.frPyObjects(obj['segmentation'], h, w))
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id, category_id=obj['category_id'],
                segmentation=obj['segmentation'], area=float(mask_utils.area(rle)),
                bbox=[float(v) for v in mask_utils.toBbox(rle)], iscrowd=0))
    coco = dict(
        info=dict(description=f'convnext_dense synthetic shapes, {split} split', version='1.0'),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(CLASSES)])
    ann_file = osp.join(out_dir, 'annotations', f'instances_{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    with_objects = {a['image_id'] for a in annotations}
    return dict(ann_file=ann_file, img_dir=osp.join(out_dir, split), images=len(images),
                annotations=len(annotations), empty_images=len(images) - len(with_objects))


def generate_coco(out_dir: str,
                  num_train: int = 600,
                  num_val: int = 120,
                  image_size: Union[int, Sequence[int]] = 128,
                  seed: int = 0,
                  max_objects: int = 4,
                  empty_prob: float = 0.08,
                  size_range: Tuple[float, float] = (0.2, 0.6),
                  max_occlusion: float = 0.3) -> Dict[str, object]:
    """Write the synthetic shapes dataset in COCO format under ``out_dir``.

    Args:
        out_dir: destination; ``train/``, ``val/`` and ``annotations/`` are created in it.
        num_train: training images.
        num_val: validation images.
        image_size: ``S`` for SxS images or ``(height, width)``.
        seed: the only source of randomness; the same seed writes the same files.
        max_objects: at most this many shapes per image (at least one, unless the image is empty).
        empty_prob: probability that an image holds no shape at all.
        size_range: shape diameter as a fraction of the image's shorter side, ``(min, max)``.
        max_occlusion: a shape may cover at most this fraction of an earlier one.

    Returns:
        ``dict(out_dir, classes, train=dict(ann_file, img_dir, images, annotations, empty_images), val=...)``.

    Raises:
        ValueError: a non-positive count or size, or a ``size_range`` outside (0, 1].
    """
    size_hw = (int(image_size), int(image_size)) if np.isscalar(image_size) else tuple(int(s) for s in image_size)
    if len(size_hw) != 2 or min(size_hw) < 32:
        raise ValueError(f'generate_coco: image_size={image_size!r} must be an int or (height, width), each >= 32')
    if num_train < 1 or num_val < 1:
        raise ValueError(f'generate_coco: num_train={num_train} and num_val={num_val} must be >= 1')
    if not 0 < size_range[0] <= size_range[1] <= 1:
        raise ValueError(f'generate_coco: size_range={size_range} must satisfy 0 < min <= max <= 1')
    if max_objects < 1:
        raise ValueError(f'generate_coco: max_objects={max_objects} must be >= 1')
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    # Independent streams per split: val is never a copy or prefix of train, whatever the counts.
    train_rng, val_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    render = dict(max_objects=max_objects, empty_prob=empty_prob, size_range=tuple(size_range),
                  max_occlusion=max_occlusion)
    return dict(out_dir=out_dir, classes=CLASSES,
                train=_split(out_dir, 'train', num_train, train_rng, size_hw, **render),
                val=_split(out_dir, 'val', num_val, val_rng, size_hw, **render))


def load_summary(ann_file: str) -> Optional[dict]:
    """Image/annotation counts of a COCO file (``None`` if it does not exist), for tools and tests."""
    if not osp.isfile(ann_file):
        return None
    with open(ann_file) as f:
        coco = json.load(f)
    return dict(images=len(coco['images']), annotations=len(coco['annotations']),
                categories=[c['name'] for c in coco['categories']])
