"""A small synthetic image-classification dataset in ImageNet folder layout, for demos and tests.

Each image shows one shape; the class is the shape's kind. The first five kinds are the classes of
the detection and segmentation demos (``circle``, ``square``, ``triangle``, ``star``, ``hexagon``),
so a backbone pretrained here has already learned those objects before it is fine-tuned to detect
them. As in the detection demo, a class is its outline and a colour family (``HUES``: the class's
hue +-25 degrees, random saturation and brightness); outline alone is too hard a cue to learn from
scratch in a few CPU minutes. Size, position, rotation, aspect and fill
texture (flat, noise, stripes, checkers) vary at random, on gradient / blob / stripe backgrounds with
pixel noise::

    out_dir/
        train/circle/000000.jpg ...
        train/square/...
        val/circle/000000.jpg ...

Everything is a function of ``seed``; train and val use independent random streams.

Example:
    >>> from convnext_dense.classification import generate_imagefolder
    >>> info = generate_imagefolder('data/synthetic_cls', num_classes=8, num_train_per_class=300,
    ...                             num_val_per_class=50, image_size=64, seed=0)
    >>> info['classes'][:3], info['train']
    (('circle', 'square', 'triangle'), 2400)
"""
import os
import os.path as osp
from typing import Dict, Tuple

import cv2
import numpy as np
from PIL import Image

from ..datasets.synthetic_coco import HUES as SYNTHETIC_COCO_HUES
from ..datasets.synthetic_coco import contrasting_colour

SHAPES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'star', 'hexagon', 'cross', 'ring', 'crescent')
# The detection demo's five hues for its five classes, and three more between them.
HUES: Dict[str, float] = dict(SYNTHETIC_COCO_HUES, cross=36., ring=180., crescent=252.)


def _polygon(kind: str, radius: float) -> np.ndarray:
    """Vertices (N, 2) of a polygonal shape centred at the origin, before rotation."""
    if kind == 'cross':
        a, b = radius, radius * 0.36
        return np.array([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a), (-b, b),
                         (-a, b), (-a, -b), (-b, -b)], np.float64)
    count, offset = dict(circle=(48, 0.), square=(4, np.pi / 4), triangle=(3, -np.pi / 2),
                         star=(10, -np.pi / 2), hexagon=(6, 0.))[kind]
    theta = np.linspace(0, 2 * np.pi, count, endpoint=False) + offset
    radii = np.full(count, radius)
    if kind == 'star':
        radii[1::2] *= 0.42
    return np.stack([np.cos(theta) * radii, np.sin(theta) * radii], axis=1)


def _shape_mask(kind: str, h: int, w: int, center: np.ndarray, radius: float, angle: float,
                aspect: float) -> np.ndarray:
    """A binary (h, w) mask of one shape."""
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    mask = np.zeros((h, w), np.uint8)

    def fill(pts, value):
        pts = pts @ rot.T + center
        cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], value, lineType=cv2.LINE_8, shift=4)

    if kind in ('ring', 'crescent'):
        disc = _polygon('circle', radius)
        disc[:, 1] *= aspect
        fill(disc, 1)
        hole = _polygon('circle', radius * (0.55 if kind == 'ring' else 0.85))
        hole[:, 1] *= aspect
        fill(hole + (np.array([radius * 0.45, 0.]) if kind == 'crescent' else 0.), 0)
    else:
        pts = _polygon(kind, radius)
        if kind == 'circle':
            pts[:, 1] *= aspect  # ellipses; the other kinds keep their proportions
        fill(pts, 1)
    return mask


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A float (h, w, 3) background: a colour gradient plus blurred blobs or stripes."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    direction = rng.uniform(0, 2 * np.pi)
    t = ((np.cos(direction) * xx / w + np.sin(direction) * yy / h) + 1) / 2
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    kind = rng.integers(3)
    if kind == 0:
        blobs = rng.uniform(-60, 60, (max(h // 12, 2), max(w // 12, 2), 3)).astype(np.float32)
        img += cv2.resize(blobs, (w, h), interpolation=cv2.INTER_CUBIC)
    elif kind == 1:
        period, phase, d = rng.uniform(5, 20), rng.uniform(0, 2 * np.pi), rng.uniform(0, np.pi)
        img += 30 * np.sin((np.cos(d) * xx + np.sin(d) * yy) * 2 * np.pi / period + phase)[..., None]
    return img


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A float (h, w, 1) fill texture: flat, noise, stripes or checkers."""
    kind = rng.integers(4)
    if kind == 0:
        return np.zeros((h, w, 1), np.float32)
    if kind == 1:
        return rng.normal(0, 20, (h, w, 1))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(3, 9)
    if kind == 2:
        return 30 * np.sin((xx + yy) * 2 * np.pi / period)[..., None]
    return 30 * (((xx // period) + (yy // period)) % 2 * 2 - 1)[..., None]


def render_shape(rng: np.random.Generator, kind: str, image_size: int) -> np.ndarray:
    """One uint8 RGB (S, S, 3) image showing a shape of ``kind``."""
    s = image_size
    img = _background(rng, s, s)
    radius = rng.uniform(0.22, 0.42) * s
    center = rng.uniform(radius * 0.8, s - radius * 0.8, 2)
    mask = _shape_mask(kind, s, s, center, radius, rng.uniform(0, 2 * np.pi), rng.uniform(0.65, 1.0))
    sel = mask.astype(bool)
    color = contrasting_colour(rng, HUES[kind], img[sel].mean(axis=0), min_distance=90.)
    img[sel] = (color + _texture(rng, s, s))[sel]
    img += rng.normal(0, rng.uniform(3, 12), img.shape)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.3, 1.0))
    return np.clip(img, 0, 255).astype(np.uint8)


def _write_split(root: str, classes: Tuple[str, ...], per_class: int, image_size: int,
                 rng: np.random.Generator) -> int:
    for kind in classes:
        os.makedirs(osp.join(root, kind), exist_ok=True)
        for i in range(per_class):
            Image.fromarray(render_shape(rng, kind, image_size)).save(osp.join(root, kind, f'{i:06d}.jpg'),
                                                                      quality=92)
    return per_class * len(classes)


def generate_imagefolder(out_dir: str,
                         num_classes: int = 8,
                         num_train_per_class: int = 300,
                         num_val_per_class: int = 50,
                         image_size: int = 64,
                         seed: int = 0) -> Dict[str, object]:
    """Write the synthetic shapes dataset under ``out_dir/{train,val}/<class>/*.jpg``.

    Args:
        out_dir: destination folder (created).
        num_classes: how many shape kinds, the first ``num_classes`` of :data:`SHAPES` (2..8).
        num_train_per_class: training images per class.
        num_val_per_class: validation images per class.
        image_size: side ``S`` of the square images (>= 16).
        seed: the only source of randomness; the same arguments write the same files.

    Returns:
        ``dict(out_dir, classes, train, val)`` with the image counts.

    Raises:
        ValueError: ``num_classes`` outside 2..8, a count below 1 or ``image_size`` below 16.
    """
    if not 2 <= num_classes <= len(SHAPES):
        raise ValueError(f'generate_imagefolder: num_classes={num_classes} must be in 2..{len(SHAPES)} '
                         f'(the shape kinds are {SHAPES})')
    if num_train_per_class < 1 or num_val_per_class < 1:
        raise ValueError(f'generate_imagefolder: num_train_per_class={num_train_per_class} and '
                         f'num_val_per_class={num_val_per_class} must be >= 1')
    if image_size < 16:
        raise ValueError(f'generate_imagefolder: image_size={image_size} must be >= 16 pixels')
    classes = SHAPES[:num_classes]
    train_rng, val_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return dict(out_dir=out_dir, classes=classes,
                train=_write_split(osp.join(out_dir, 'train'), classes, num_train_per_class, image_size, train_rng),
                val=_write_split(osp.join(out_dir, 'val'), classes, num_val_per_class, image_size, val_rng))
