"""A small synthetic semantic-segmentation dataset in ADE20K's on-disk format, for demos and tests.

Each image is a smooth "ground" with 1-4 objects painted over it. An object's class is its
*texture* (stripes, checkerboard, dots, speckle) and, as for real classes (sky is mostly blue), a
*colour family*: one of the texture's two colours has the class's hue (+-25 degrees), the other is
random. Shape (ellipse, rectangle, triangle, random polygon, smooth blob), size, position,
rotation, saturation, brightness and the texture's scale and orientation are random, and objects
may occlude each other. The ground takes any colours, so colour alone does not separate it from
the objects: a model has to use local structure too. Some images also hold an "other" object (flat
colour) labelled 0, ADE20K's "unlabelled/other" value. Image sizes vary around ``image_size`` as
ADE20K's do.

The layout and label convention are ADE20K's (``ADEChallengeData2016``), so mmseg's ADE20K
pipeline reads it unchanged with ``reduce_zero_label=True`` (:class:`SyntheticADE20KDataset`, registered in
mmseg's scope, is ``CheckedADE20KDataset`` with these classes)::

    out_dir/
        images/training/ADE_train_00000001.jpg ...       RGB, JPEG quality 95
        images/validation/ADE_val_00000001.jpg ...
        annotations/training/ADE_train_00000001.png ...  uint8, one channel: 0 = other (ignored),
        annotations/validation/ADE_val_00000001.png ...  1..5 = CLASSES[0..4]

With ``reduce_zero_label=True`` mmseg maps 0 -> 255 (ignored) and k -> k - 1, so the model's class
indices are 0..4 = ``CLASSES``, exactly as ADE20K's 1..150 become 0..149. Train and val are drawn
from one distribution with independent random streams (no image is shared); everything is a
function of ``seed``.

Example:
    >>> import tempfile
    >>> from convnext_dense.datasets.synthetic import generate_ade
    >>> info = generate_ade(tempfile.mkdtemp(), num_train=8, num_val=4, image_size=96)
    >>> info['classes']
    ('ground', 'stripes', 'checker', 'dots', 'speckle')
"""

import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np
from mmseg.registry import DATASETS

from ...errors import ConfigError
from ..ade import CheckedADE20KDataset
from .draw import TEXTURES, polygon_mask, texture

# Label value k + 1 on disk is CLASSES[k]; 0 is "other" (ignored, as in ADE20K). The classes are the
# textures of draw.texture, which the classification demo's texture classes draw too.
CLASSES: Tuple[str, ...] = TEXTURES
PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (120, 120, 70),
    (230, 60, 60),
    (60, 140, 240),
    (250, 200, 20),
    (150, 70, 230),
)
SHAPES: Tuple[str, ...] = ('ellipse', 'rectangle', 'triangle', 'polygon', 'blob')
SPLITS = {'train': ('training', 'ADE_train'), 'val': ('validation', 'ADE_val')}


def _shape_mask(rng: np.random.Generator, h: int, w: int, radius: float) -> np.ndarray:
    """A filled random shape (uint8 HxW, 1 inside) of about ``radius`` pixels."""
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    center = rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h])
    angle = rng.uniform(0, 2 * np.pi)
    if shape == 'ellipse':
        theta = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        radii = np.full_like(theta, radius)
        aspect = rng.uniform(0.45, 1.0)
    elif shape == 'rectangle':
        theta = np.array([1, 3, 5, 7]) * np.pi / 4
        radii = np.full_like(theta, radius)
        aspect = rng.uniform(0.4, 1.0)
    elif shape == 'triangle':
        theta = np.linspace(0, 2 * np.pi, 3, endpoint=False) + rng.uniform(-0.3, 0.3, 3)
        radii = np.full_like(theta, radius * 1.2)
        aspect = 1.0
    elif shape == 'polygon':  # 5-9 vertices at random radii: often concave
        n = int(rng.integers(5, 10))
        theta = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = radius * rng.uniform(0.5, 1.2, n)
        aspect = 1.0
    else:  # blob: a smooth random radial profile
        theta = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        radii = radius * (
            1 + sum(rng.uniform(-0.25, 0.25) * np.cos(k * theta + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 4))
        )
        aspect = 1.0
    x, y = np.cos(theta) * radii, np.sin(theta) * radii * aspect
    pts = np.stack([np.cos(angle) * x - np.sin(angle) * y, np.sin(angle) * x + np.cos(angle) * y], 1) + center
    return polygon_mask(pts, h, w)


def render_sample(
    rng: np.random.Generator, h: int, w: int, max_objects: int = 4, other_prob: float = 0.3
) -> Tuple[np.ndarray, np.ndarray]:
    """One image (uint8 HxWx3, RGB) and its label map (uint8 HxW, values 0..len(CLASSES)).

    Args:
        rng: the random stream to draw from.
        h, w: image size.
        max_objects: textured objects per image, 1..max_objects.
        other_prob: probability of one extra "other" object (flat colour, label 0).
    """
    img = texture(rng, 'ground', h, w)
    label = np.ones((h, w), np.uint8)  # 'ground'
    layers = [
        (int(rng.integers(1, len(CLASSES))), rng.uniform(0.15, 0.4))
        for _ in range(int(rng.integers(1, max_objects + 1)))
    ]
    if rng.random() < other_prob:
        layers.insert(int(rng.integers(len(layers) + 1)), (0, rng.uniform(0.08, 0.18)))
    for class_idx, rel_radius in layers:
        mask = _shape_mask(rng, h, w, rel_radius * min(h, w)).astype(bool)
        field = texture(rng, CLASSES[class_idx] if class_idx else 'flat', h, w)
        img[mask] = field[mask]
        label[mask] = class_idx + 1 if class_idx else 0
    return np.clip(np.round(img), 0, 255).astype(np.uint8), label


def _sample_size(rng: np.random.Generator, size_hw: Tuple[int, int]) -> Tuple[int, int]:
    """Height and width, each scaled by a random factor in [0.8, 1.25] (ADE20K's sizes vary too)."""
    return tuple(max(32, int(round(s * rng.uniform(0.8, 1.25)))) for s in size_hw)


def _write_split(
    out_dir: str, split: str, num_images: int, rng: np.random.Generator, size_hw: Tuple[int, int], **render_kwargs
) -> dict:
    folder, prefix = SPLITS[split]
    img_dir = osp.join(out_dir, 'images', folder)
    ann_dir = osp.join(out_dir, 'annotations', folder)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    pixels = np.zeros(len(CLASSES) + 1, np.int64)
    for index in range(1, num_images + 1):
        h, w = _sample_size(rng, size_hw)
        img, label = render_sample(rng, h, w, **render_kwargs)
        stem = f'{prefix}_{index:08d}'
        cv2.imwrite(osp.join(img_dir, stem + '.jpg'), img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(osp.join(ann_dir, stem + '.png'), label)
        pixels += np.bincount(label.ravel(), minlength=len(CLASSES) + 1)
    return dict(
        img_dir=img_dir,
        ann_dir=ann_dir,
        images=num_images,
        pixels={name: int(n) for name, n in zip(('other',) + CLASSES, pixels)},
    )


def generate_ade(
    out_dir: str,
    num_train: int = 400,
    num_val: int = 100,
    image_size: Union[int, Sequence[int]] = 128,
    seed: int = 0,
    max_objects: int = 4,
    other_prob: float = 0.3,
) -> Dict[str, object]:
    """Write the synthetic texture dataset in ADE20K's layout under ``out_dir``.

    Args:
        out_dir: destination; ``images/`` and ``annotations/`` (each with ``training/`` and
            ``validation/``) are created in it.
        num_train: training images.
        num_val: validation images (a held-out random stream, never a copy of training images).
        image_size: ``S`` or ``(height, width)``: the typical size; each side of each image is scaled
            by a random factor in [0.8, 1.25].
        seed: the only source of randomness; the same seed writes the same files.
        max_objects: at most this many textured objects per image (at least one).
        other_prob: probability that an image also holds an "other" object (label 0, ignored).

    Returns:
        ``dict(out_dir, classes, palette, train=dict(img_dir, ann_dir, images, pixels), val=...)``;
        ``pixels`` counts label pixels per name, ``'other'`` (0) first.

    Raises:
        ValueError: a count below 1, a size below 32 or ``other_prob`` outside [0, 1].
    """
    size_hw = (int(image_size), int(image_size)) if np.isscalar(image_size) else tuple(int(s) for s in image_size)
    if len(size_hw) != 2 or min(size_hw) < 32:
        raise ConfigError(f'generate_ade: image_size={image_size!r} must be an int or (height, width), each >= 32')
    if num_train < 1 or num_val < 1:
        raise ConfigError(f'generate_ade: num_train={num_train} and num_val={num_val} must be >= 1')
    if max_objects < 1:
        raise ConfigError(f'generate_ade: max_objects={max_objects} must be >= 1')
    if not 0 <= other_prob <= 1:
        raise ConfigError(f'generate_ade: other_prob={other_prob} must be in [0, 1]')
    # Independent streams per split: val is never a copy or prefix of train, whatever the counts.
    train_rng, val_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    render = dict(max_objects=max_objects, other_prob=other_prob)
    return dict(
        out_dir=out_dir,
        classes=CLASSES,
        palette=PALETTE,
        train=_write_split(out_dir, 'train', num_train, train_rng, size_hw, **render),
        val=_write_split(out_dir, 'val', num_val, val_rng, size_hw, **render),
    )


def split_files(out_dir: str, split: str) -> List[Tuple[str, str]]:
    """Sorted ``(image, label)`` path pairs of a split ('train' or 'val'), for tools and tests."""
    folder, _ = SPLITS[split]
    img_dir = osp.join(out_dir, 'images', folder)
    stems = sorted(osp.splitext(f)[0] for f in os.listdir(img_dir) if f.endswith('.jpg'))
    return [(osp.join(img_dir, s + '.jpg'), osp.join(out_dir, 'annotations', folder, s + '.png')) for s in stems]


@DATASETS.register_module()
class SyntheticADE20KDataset(CheckedADE20KDataset):
    """The dataset of :func:`generate_ade`'s output, with the checks of :class:`CheckedADE20KDataset`.

    ADE20K's format and label convention (0 = other, ignored; classes 1..5 on disk) with its own
    five classes, so the palette and per-class tables name them.
    """

    METAINFO = dict(classes=CLASSES, palette=[list(c) for c in PALETTE])
