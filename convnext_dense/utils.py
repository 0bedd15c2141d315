"""Small helpers that several modules' messages, file scans and path checks share.

Example:
    >>> shorten(['a', 'b', 'c', 'd'], limit=2)
    'a, b, ... (2 more)'
    >>> 'x.JPG'.lower().endswith(IMG_EXTENSIONS)
    True
    >>> is_remote('s3://bucket/coco/'), is_remote('data/coco/'), is_url('https://host/w.pth'), is_url('s3://b/w.pth')
    (True, False, True, False)
"""

import re
from typing import Any, Sequence

# Image files the image-folder dataset and the inference tool read (what PIL and OpenCV both decode).
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')


def shorten(items: Sequence, limit: int = 8) -> str:
    """``items`` joined by commas, the first ``limit`` of them and how many more, for error messages."""
    items = list(items)
    more = f', ... ({len(items) - limit} more)' if len(items) > limit else ''
    return ', '.join(map(str, items[:limit])) + more


_SCHEME = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*://')


def is_remote(path: Any) -> bool:
    """Whether ``path`` is a URI with a scheme (``s3://``, ``http://``, ...) that mmengine's file backends
    read, rather than a local path: local existence checks do not apply to it."""
    return isinstance(path, str) and _SCHEME.match(path) is not None


def is_url(path: Any) -> bool:
    """Whether ``path`` is an http(s) URL: the kind of checkpoint address this project downloads itself."""
    return is_remote(path) and path.lower().startswith(('http://', 'https://'))
