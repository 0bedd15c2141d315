"""A small synthetic image-classification dataset in ImageNet folder layout, for demos and tests.

Thirteen classes (``CLASSES``), as ImageNet holds both object and texture-like classes:

* **eight shape classes** (``draw.SHAPES``): each image shows one shape; the class is the shape's kind.
  The first five kinds are the detection demo's classes (``circle``, ``square``, ``triangle``,
  ``star``, ``hexagon``), drawn by the same code as there (:mod:`.draw`): the same outlines, colour
  families (the class's hue +-25 degrees, random saturation and brightness), fill textures (flat,
  noise, stripes) and backgrounds (gradient, blobs or stripes, pixel noise). Size, position,
  rotation and (for circles) aspect vary at random.
* **five texture classes** (``draw.TEXTURES``: ``ground``, ``stripes``, ``checker``, ``dots``,
  ``speckle``): each image is a field of that texture, drawn by the segmentation demo's own texture
  function (``draw.texture``: the same colour families, scales, orientations and noise), so the labels
  also need the cues that the segmentation demo's classes are made of.

So a backbone pretrained here has learned the detection demo's objects and the segmentation demo's
textures before it is fine-tuned on either::

    out_dir/
        train/circle/000000.jpg ...
        train/square/...
        train/stripes/...
        val/circle/000000.jpg ...

``num_classes`` takes the first N of ``CLASSES`` (the shapes first). Everything is a function of
``seed``; train and val use independent random streams.

Example:
    >>> import tempfile
    >>> from convnext_dense.datasets.synthetic import generate_imagefolder
    >>> info = generate_imagefolder(tempfile.mkdtemp(), num_classes=3, num_train_per_class=2,
    ...                             num_val_per_class=1, image_size=32, seed=0)
    >>> info['classes'], info['train'], info['val']
    (('circle', 'square', 'triangle'), 6, 3)
    >>> info = generate_imagefolder(tempfile.mkdtemp(), num_train_per_class=1, num_val_per_class=1,
    ...                             image_size=32)
    >>> info['classes'][8:], info['train']
    (('ground', 'stripes', 'checker', 'dots', 'speckle'), 13)
"""

import os
import os.path as osp
from typing import Dict, Tuple

import numpy as np
from PIL import Image

from ...errors import ConfigError
from .draw import HUES, SHAPES, TEXTURES, background, contrasting_colour, fill, finish, shape_mask, texture

# The classification demo's classes: the shape kinds, then the segmentation demo's textures.
CLASSES: Tuple[str, ...] = SHAPES + TEXTURES


def render_shape(rng: np.random.Generator, kind: str, image_size: int) -> np.ndarray:
    """One uint8 RGB (S, S, 3) image showing a shape of ``kind`` on a random background."""
    s = image_size
    img = background(rng, s, s)
    radius = rng.uniform(0.22, 0.42) * s
    center = rng.uniform(radius * 0.8, s - radius * 0.8, 2)
    mask = shape_mask(kind, s, s, center, radius, rng.uniform(0, 2 * np.pi), rng.uniform(0.6, 1.0))
    color = contrasting_colour(rng, HUES[kind], img[mask.astype(bool)].mean(axis=0), min_distance=90.0)
    fill(rng, img, mask, color)
    return finish(rng, img)


def render_texture(rng: np.random.Generator, kind: str, image_size: int) -> np.ndarray:
    """One uint8 RGB (S, S, 3) image filled with the texture ``kind`` (one of ``TEXTURES``), drawn as the
    segmentation demo draws its classes."""
    return np.clip(np.round(texture(rng, kind, image_size, image_size)), 0, 255).astype(np.uint8)


def render_image(rng: np.random.Generator, kind: str, image_size: int) -> np.ndarray:
    """One image of class ``kind`` (one of ``CLASSES``)."""
    return (render_texture if kind in TEXTURES else render_shape)(rng, kind, image_size)


def _write_split(root: str, classes: Tuple[str, ...], per_class: int, image_size: int, rng: np.random.Generator) -> int:
    for kind in classes:
        os.makedirs(osp.join(root, kind), exist_ok=True)
        for i in range(per_class):
            Image.fromarray(render_image(rng, kind, image_size)).save(osp.join(root, kind, f'{i:06d}.jpg'), quality=92)
    return per_class * len(classes)


def generate_imagefolder(
    out_dir: str,
    num_classes: int = len(CLASSES),
    num_train_per_class: int = 200,
    num_val_per_class: int = 30,
    image_size: int = 64,
    seed: int = 0,
) -> Dict[str, object]:
    """Write the synthetic shapes-and-textures dataset under ``out_dir/{train,val}/<class>/*.jpg``.

    Args:
        out_dir: destination folder (created).
        num_classes: how many classes, the first ``num_classes`` of :data:`CLASSES` (2..13): 2..8 are
            shape kinds only, 9..13 add the textures.
        num_train_per_class: training images per class.
        num_val_per_class: validation images per class.
        image_size: side ``S`` of the square images (>= 16).
        seed: the only source of randomness; the same arguments write the same files.

    Returns:
        ``dict(out_dir, classes, train, val)`` with the image counts.

    Raises:
        ValueError: ``num_classes`` outside 2..13, a count below 1 or ``image_size`` below 16.
    """
    if not 2 <= num_classes <= len(CLASSES):
        raise ConfigError(
            f'generate_imagefolder: num_classes={num_classes} must be in 2..{len(CLASSES)} '
            f'(the classes are {CLASSES})'
        )
    if num_train_per_class < 1 or num_val_per_class < 1:
        raise ConfigError(
            f'generate_imagefolder: num_train_per_class={num_train_per_class} and '
            f'num_val_per_class={num_val_per_class} must be >= 1'
        )
    if image_size < 16:
        raise ConfigError(f'generate_imagefolder: image_size={image_size} must be >= 16 pixels')
    classes = CLASSES[:num_classes]
    train_rng, val_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return dict(
        out_dir=out_dir,
        classes=classes,
        train=_write_split(osp.join(out_dir, 'train'), classes, num_train_per_class, image_size, train_rng),
        val=_write_split(osp.join(out_dir, 'val'), classes, num_val_per_class, image_size, val_rng),
    )
