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
    >>> import tempfile
    >>> from convnext_dense.datasets.synthetic import generate_coco
    >>> info = generate_coco(tempfile.mkdtemp(), num_train=8, num_val=4, image_size=96)
    >>> info['classes']
    ('circle', 'square', 'triangle', 'star', 'hexagon')
"""

import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ...errors import ConfigError
from .draw import HUES as SHAPE_HUES
from .draw import SHAPES, background, contrasting_colour, fill, finish, shape_mask

# The first five shape kinds, with their colour families (``draw.HUES``).
CLASSES: Tuple[str, ...] = SHAPES[:5]
HUES: Dict[str, float] = {name: SHAPE_HUES[name] for name in CLASSES}


def _polygons_from_mask(mask: np.ndarray) -> List[List[float]]:
    """Outer contours of a binary mask as COCO polygons (x0, y0, x1, y1, ...), fragments dropped."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for contour in contours:
        if len(contour) >= 3 and cv2.contourArea(contour) >= 4:
            polys.append([float(v) + 0.5 for v in contour.reshape(-1)])  # pixel centres
    return polys


def _render_image(
    rng: np.random.Generator,
    h: int,
    w: int,
    max_objects: int,
    empty_prob: float,
    size_range: Tuple[float, float],
    max_occlusion: float,
) -> Tuple[np.ndarray, List[dict]]:
    """One image (uint8 BGR) and its objects: dict(category_id, segmentation)."""
    img = background(rng, h, w)
    num = 0 if rng.random() < empty_prob else int(rng.integers(1, max_objects + 1))
    masks, labels = [], []
    for _ in range(num):
        for _attempt in range(10):
            name_idx = int(rng.integers(len(CLASSES)))
            radius = rng.uniform(*size_range) * min(h, w) / 2
            center = rng.uniform([radius * 0.6, radius * 0.6], [w - radius * 0.6, h - radius * 0.6])
            mask = shape_mask(CLASSES[name_idx], h, w, center, radius, rng.uniform(0, 2 * np.pi), rng.uniform(0.6, 1.0))
            if mask.sum() < 16:
                continue
            # Overlaps are allowed, but a new shape may hide at most `max_occlusion` of an earlier one.
            if all((m & mask).sum() <= max_occlusion * m.sum() for m in masks):
                break
        else:
            continue
        under = img[mask.astype(bool)].mean(axis=0)
        fill(rng, img, mask, contrasting_colour(rng, HUES[CLASSES[name_idx]], under))
        masks.append(mask)
        labels.append(name_idx + 1)
    objects = []
    for i, (mask, label) in enumerate(zip(masks, labels)):
        visible = mask.copy()
        for later in masks[i + 1 :]:
            visible[later.astype(bool)] = 0
        polys = _polygons_from_mask(visible)
        if polys:
            objects.append(dict(category_id=label, segmentation=polys))
    img = finish(rng, img)
    return img[..., ::-1].copy(), objects  # RGB -> BGR for cv2.imwrite


def _split(
    out_dir: str, split: str, num_images: int, rng: np.random.Generator, size_hw: Tuple[int, int], **render_kwargs
) -> dict:
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
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=obj['category_id'],
                    segmentation=obj['segmentation'],
                    area=float(mask_utils.area(rle)),
                    bbox=[float(v) for v in mask_utils.toBbox(rle)],
                    iscrowd=0,
                )
            )
    coco = dict(
        info=dict(description=f'convnext_dense synthetic shapes, {split} split', version='1.0'),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(CLASSES)],
    )
    ann_file = osp.join(out_dir, 'annotations', f'instances_{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    with_objects = {a['image_id'] for a in annotations}
    return dict(
        ann_file=ann_file,
        img_dir=osp.join(out_dir, split),
        images=len(images),
        annotations=len(annotations),
        empty_images=len(images) - len(with_objects),
    )


def generate_coco(
    out_dir: str,
    num_train: int = 600,
    num_val: int = 120,
    image_size: Union[int, Sequence[int]] = 128,
    seed: int = 0,
    max_objects: int = 4,
    empty_prob: float = 0.08,
    size_range: Tuple[float, float] = (0.2, 0.6),
    max_occlusion: float = 0.3,
) -> Dict[str, object]:
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
        raise ConfigError(f'generate_coco: image_size={image_size!r} must be an int or (height, width), each >= 32')
    if num_train < 1 or num_val < 1:
        raise ConfigError(f'generate_coco: num_train={num_train} and num_val={num_val} must be >= 1')
    if not 0 < size_range[0] <= size_range[1] <= 1:
        raise ConfigError(f'generate_coco: size_range={size_range} must satisfy 0 < min <= max <= 1')
    if max_objects < 1:
        raise ConfigError(f'generate_coco: max_objects={max_objects} must be >= 1')
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    # Independent streams per split: val is never a copy or prefix of train, whatever the counts.
    train_rng, val_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    render = dict(
        max_objects=max_objects, empty_prob=empty_prob, size_range=tuple(size_range), max_occlusion=max_occlusion
    )
    return dict(
        out_dir=out_dir,
        classes=CLASSES,
        train=_split(out_dir, 'train', num_train, train_rng, size_hw, **render),
        val=_split(out_dir, 'val', num_val, val_rng, size_hw, **render),
    )
