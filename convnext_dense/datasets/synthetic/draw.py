"""The drawing shared by the synthetic generators: shapes, colour families, backgrounds, fills, textures.

The detection demo (:mod:`.coco`) and the classification demo (:mod:`.imagefolder`) draw their objects
with these same functions, so a backbone pretrained on the classification images has seen exactly the
outlines, colour families, fill textures and backgrounds that it later detects. The segmentation demo
(:mod:`.ade`) uses the colour families and the polygon rasteriser; its classes are the textures of
:func:`texture` (``TEXTURES``), which the classification demo's texture classes draw too.

Every function draws from the ``rng`` it is given, in a fixed order: the same stream gives the same
pixels.

Example:
    >>> import numpy as np
    >>> from convnext_dense.datasets.synthetic.draw import shape_mask
    >>> mask = shape_mask('square', 32, 32, center=np.array([16., 16.]), radius=10., angle=0., aspect=1.)
    >>> mask.shape, mask.dtype, int(mask.sum()) > 150
    ((32, 32), dtype('uint8'), True)
"""

from typing import Dict, Optional, Tuple

import cv2
import numpy as np

# The shape kinds. The first five are the detection demo's classes; all eight are the classification
# demo's.
SHAPES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'star', 'hexagon', 'cross', 'ring', 'crescent')
# Hue (degrees) of each kind's colour family: the five detection classes 72 degrees apart, the other
# three between them.
HUES: Dict[str, float] = {
    'circle': 0.0,
    'square': 216.0,
    'triangle': 72.0,
    'star': 288.0,
    'hexagon': 144.0,
    'cross': 36.0,
    'ring': 180.0,
    'crescent': 252.0,
}
# The segmentation demo's classes, textures: a smooth ground and four object textures. The classification
# demo has one class per texture too.
TEXTURES: Tuple[str, ...] = ('ground', 'stripes', 'checker', 'dots', 'speckle')
# Hue (degrees) of each object texture's colour family; the ground has none.
TEXTURE_HUES: Dict[str, float] = {'stripes': 0.0, 'checker': 220.0, 'dots': 50.0, 'speckle': 285.0}
STAR_INNER_RADIUS = 0.45  # a star's inner vertices, relative to its outer ones

# Vertices of the regular shapes on the unit circle, before scaling and rotation; a circle is a fine polygon.
_ANGLES = {
    'circle': np.linspace(0, 2 * np.pi, 48, endpoint=False),
    'square': np.linspace(0, 2 * np.pi, 4, endpoint=False) + np.pi / 4,
    'triangle': np.linspace(0, 2 * np.pi, 3, endpoint=False) - np.pi / 2,
    'star': np.linspace(0, 2 * np.pi, 10, endpoint=False) - np.pi / 2,
    'hexagon': np.linspace(0, 2 * np.pi, 6, endpoint=False),
}


def hue_colour(rng: np.random.Generator, hue: float) -> np.ndarray:
    """A random RGB colour (0..255) of hue ``hue`` +- 25 degrees, saturation and value in [0.5, 1]."""
    h = (hue + rng.uniform(-25, 25)) % 360 / 60
    s, v = rng.uniform(0.5, 1.0), rng.uniform(0.5, 1.0)
    x = 1 - abs(h % 2 - 1)
    rgb = [(1, x, 0), (x, 1, 0), (0, 1, x), (0, x, 1), (x, 0, 1), (1, 0, x)][int(h)]
    return 255 * v * (1 - s + s * np.array(rgb))


def contrasting_colour(
    rng: np.random.Generator, hue: float, background: np.ndarray, min_distance: float = 80.0
) -> np.ndarray:
    """A colour of the family ``hue`` (see ``HUES``), at least ``min_distance`` (RGB L2) from the mean
    background under the shape if one of 20 draws is; else the draw farthest from it."""
    best, best_distance = None, -1.0
    for _ in range(20):
        color = hue_colour(rng, hue)
        distance = np.linalg.norm(color - background)
        if distance >= min_distance:
            return color
        if distance > best_distance:
            best, best_distance = color, distance
    return best


def polygon_mask(pts: np.ndarray, h: int, w: int, mask: np.ndarray = None, value: int = 1) -> np.ndarray:
    """Rasterise the polygon ``pts`` (N, 2; x, y in pixels, sub-pixel precise) into a uint8 (h, w) mask."""
    if mask is None:
        mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], value, lineType=cv2.LINE_8, shift=4)
    return mask


def shape_polygon(kind: str, center: np.ndarray, radius: float, angle: float, aspect: float) -> np.ndarray:
    """Vertices (N, 2) in pixels (x, y) of a polygonal kind (all of ``SHAPES`` but ring and crescent).

    ``aspect`` squeezes circles into ellipses (after rotation, along y); the other kinds keep their
    proportions, so that a class stays its outline.
    """
    if kind == 'cross':
        a, b = radius, radius * 0.36
        pts = np.array(
            [
                (-b, -a),
                (b, -a),
                (b, -b),
                (a, -b),
                (a, b),
                (b, b),
                (b, a),
                (-b, a),
                (-b, b),
                (-a, b),
                (-a, -b),
                (-b, -b),
            ],
            np.float64,
        )
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return pts @ rot.T + center
    theta = _ANGLES[kind] + angle
    radii = np.full(theta.shape, radius)
    if kind == 'star':
        radii[1::2] *= STAR_INNER_RADIUS
    pts = np.stack([np.cos(theta) * radii, np.sin(theta) * radii], axis=1)
    if kind == 'circle':
        pts[:, 1] *= aspect
    return pts + center


def shape_mask(kind: str, h: int, w: int, center: np.ndarray, radius: float, angle: float, aspect: float) -> np.ndarray:
    """A binary uint8 (h, w) mask of one shape of any kind in ``SHAPES``."""
    if kind not in SHAPES:
        raise ValueError(f'unknown shape kind {kind!r}; choose one of {SHAPES}')
    if kind in ('ring', 'crescent'):  # a disc with a (centred or shifted) circular hole
        mask = polygon_mask(shape_polygon('circle', center, radius, angle, aspect), h, w)
        hole_radius = radius * (0.55 if kind == 'ring' else 0.85)
        shift = np.zeros(2) if kind == 'ring' else radius * 0.45 * np.array([np.cos(angle), np.sin(angle)])
        return polygon_mask(shape_polygon('circle', center + shift, hole_radius, angle, aspect), h, w, mask, 0)
    return polygon_mask(shape_polygon(kind, center, radius, angle, aspect), h, w)


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A float (h, w, 3) RGB background: a random gradient, low-frequency blobs or stripes, pixel noise."""
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


def fill(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray, color: np.ndarray) -> None:
    """Paint ``color`` with a random texture (flat, noisy or stripes) into ``img`` where ``mask`` is set."""
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


def finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """A slight blur on half of the images, then clipped to uint8."""
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.3, 1.0))
    return np.clip(img, 0, 255).astype(np.uint8)


def two_colours(
    rng: np.random.Generator, hue: Optional[float] = None, min_distance: float = 90.0
) -> Tuple[np.ndarray, np.ndarray]:
    """Two RGB colours at least ``min_distance`` apart (so a texture is visible); the first of
    hue ``hue`` if given, else random."""
    a = rng.uniform(0, 255, 3) if hue is None else hue_colour(rng, hue)
    for _ in range(50):
        b = rng.uniform(0, 255, 3)
        if np.linalg.norm(a - b) >= min_distance:
            return a, b
    return a, 255.0 - a


def mix(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel blend of colours ``a`` (t=0) and ``b`` (t=1); ``t`` is HxW in [0, 1]."""
    return a * (1 - t[..., None]) + b * t[..., None]


def texture(rng: np.random.Generator, name: str, h: int, w: int) -> np.ndarray:
    """An HxWx3 float image of texture ``name`` (one of ``TEXTURES``, or 'flat') with random colours and
    scale; an object texture's first colour is of its family (``TEXTURE_HUES``)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b = two_colours(rng, TEXTURE_HUES.get(name))
    if rng.random() < 0.5:
        a, b = b, a
    if name == 'ground':  # smooth: a gradient plus low-frequency blobs
        angle = rng.uniform(0, 2 * np.pi)
        t = (np.cos(angle) * xx / w + np.sin(angle) * yy / h + 1) / 2
        img = mix(t * rng.uniform(0.3, 1.0), a, b)
        blobs = rng.uniform(-40, 40, (max(h // 24, 2), max(w // 24, 2), 3)).astype(np.float32)
        img = img + cv2.resize(blobs, (w, h), interpolation=cv2.INTER_CUBIC)
    elif name == 'flat':
        img = np.broadcast_to(a, (h, w, 3)).astype(np.float32)
    elif name == 'stripes':  # 1-D periodic at any orientation
        angle, period = rng.uniform(0, np.pi), rng.uniform(5, 10)
        u = np.cos(angle) * xx + np.sin(angle) * yy
        img = mix(0.5 + 0.5 * np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi)), a, b)
    elif name == 'checker':  # 2-D periodic squares, rotated
        angle, cell = rng.uniform(0, np.pi / 2), rng.uniform(3, 6)
        u = np.cos(angle) * xx + np.sin(angle) * yy
        v = -np.sin(angle) * xx + np.cos(angle) * yy
        img = mix(((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float32), a, b)
    elif name == 'dots':  # small discs on a jittered grid
        spacing = rng.uniform(6, 10)
        radius = spacing * rng.uniform(0.22, 0.32)
        du = (xx + rng.uniform(0, spacing)) % spacing - spacing / 2
        dv = (yy + rng.uniform(0, spacing)) % spacing - spacing / 2
        img = mix((du**2 + dv**2 <= radius**2).astype(np.float32), a, b)
    elif name == 'speckle':  # i.i.d. random 1x1 or 2x2 cells
        cell = int(rng.integers(1, 3))
        t = rng.random((h // cell + 1, w // cell + 1)).astype(np.float32)
        img = mix(np.kron(t, np.ones((cell, cell), np.float32))[:h, :w], a, b)
    else:
        raise ValueError(f'unknown texture {name!r}; choose one of {TEXTURES + ("flat",)}')
    return img + rng.normal(0, rng.uniform(2, 6), (h, w, 3))
