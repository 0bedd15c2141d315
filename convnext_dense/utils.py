"""Two small helpers that several modules' messages and file scans share.

Example:
    >>> shorten(['a', 'b', 'c', 'd'], limit=2)
    'a, b, ... (2 more)'
    >>> 'x.JPG'.lower().endswith(IMG_EXTENSIONS)
    True
"""

from typing import Sequence

# Image files the image-folder dataset and the inference tool read (what PIL and OpenCV both decode).
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')


def shorten(items: Sequence, limit: int = 8) -> str:
    """``items`` joined by commas, the first ``limit`` of them and how many more, for error messages."""
    items = list(items)
    more = f', ... ({len(items) - limit} more)' if len(items) > limit else ''
    return ', '.join(map(str, items[:limit])) + more
