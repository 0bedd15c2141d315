"""The authors' released ConvNeXt weights, and downloading them once into torch hub's cache.

A config may name a checkpoint by URL, as mmdet's and mmseg's configs do::

    init_cfg=dict(type='Pretrained',
                  checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth')

:func:`fetch` downloads such a URL on first use into ``$TORCH_HOME/hub/checkpoints`` (torch hub's
folder, which mmengine and timm use too, so files already there are reused) and returns the cached
path; later runs read the cache and do not touch the network. A download is written to a temporary
file in the same folder and renamed into place only when it is complete: its length must match the
server's ``Content-Length`` and, where the file name carries a hash prefix (torch hub's
``name-<sha256 prefix>.ext`` convention), the SHA-256 must start with it. An interrupted or
truncated download therefore never remains in the cache. :func:`load_url_checkpoint` reads the file
with ``torch.load(weights_only=True)``: a downloaded file is untrusted.

:data:`RELEASED_WEIGHTS` lists the authors' releases (facebookresearch/ConvNeXt and
facebookresearch/ConvNeXt-V2 README tables); ``docs/pretrained_weights.md`` says which config uses
which and where each URL and accuracy comes from. ``tools/download_weights.py`` downloads them ahead
of time (``--list`` prints this table).
"""

import argparse
import contextlib
import hashlib
import http.client
import os
import os.path as osp
import re
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlparse

import torch

V1_SOURCE = 'facebookresearch/ConvNeXt README.md'
V1_DENSE_SOURCE = (
    'facebookresearch/ConvNeXt object_detection/README.md and semantic_segmentation/README.md '
    '("Pretrained Model" column)'
)
V2_SOURCE = 'facebookresearch/ConvNeXt-V2 README.md'
_FB = 'https://dl.fbaipublicfiles.com/convnext/'
# torch.hub's convention: 'name-<first hex digits of the SHA-256>.ext'
HASH_REGEX = re.compile(r'-([a-f0-9]*)\.')
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ReleasedWeights:
    """One released checkpoint.

    Attributes:
        name: the file name without extension (``--name`` of tools/download_weights.py).
        arch: the ``ConvNeXt`` arch it fits (``'tiny'`` ... ``'xlarge'``, ``'v2-atto'`` ... ``'v2-huge'``).
        data: what it was trained on: ``IN-1K``, ``IN-22K``, ``IN-22K -> IN-1K`` (22K pre-trained, 1K
            fine-tuned), ``FCMAE`` (V2 self-supervised, ImageNet-1K images), ``FCMAE -> IN-1K``,
            ``FCMAE -> IN-22K -> IN-1K``.
        resolution: training resolution (square).
        ema: the file holds the EMA weights (under ``model``, as the non-EMA files do).
        top1: ImageNet-1K top-1 (%) the authors report for this file; None where they report none
            (22K classifiers, FCMAE encoders, and the non-EMA 1K files linked only from the
            detection and segmentation READMEs).
        url: the authors' download address.
        source: where the URL and the accuracy are published.

    Every file loads as it is (``load_pretrained``, a classifier's ``finetune``): the V2 FCMAE files
    hold the sparse pre-training model, whose encoder the loader converts (:mod:`.checkpoint`).
    """

    name: str
    arch: str
    data: str
    resolution: int
    ema: bool
    top1: Optional[float]
    url: str
    source: str


def _v1(
    size: str, data_tag: str, res: int, top1: Optional[float], data: str, ema: bool = False, source: str = V1_SOURCE
) -> ReleasedWeights:
    name = f'convnext_{size}_{data_tag}_{res}' + ('_ema' if ema else '')
    return ReleasedWeights(name, size, data, res, ema, top1, f'{_FB}{name}.pth', source)


def _v2(
    size: str, folder: str, data_tag: str, res: int, top1: Optional[float], data: str, suffix: str = 'ema'
) -> ReleasedWeights:
    name = f'convnextv2_{size}_{data_tag}_{res}_{suffix}'
    return ReleasedWeights(
        name, f'v2-{size}', data, res, suffix == 'ema', top1, f'{_FB}convnextv2/{folder}/{name}.pt', V2_SOURCE
    )


_TABLE: List[ReleasedWeights] = [
    # V1, ImageNet-1K, non-EMA: what the authors' detection and segmentation recipes start from
    *[_v1(s, '1k', 224, None, 'IN-1K', source=V1_DENSE_SOURCE) for s in ('tiny', 'small', 'base')],
    # V1, ImageNet-1K, EMA (the classification table)
    *[
        _v1(s, '1k', 224, t, 'IN-1K', ema=True)
        for s, t in (('tiny', 82.1), ('small', 83.1), ('base', 83.8), ('large', 84.3))
    ],
    _v1('base', '1k', 384, 85.1, 'IN-1K'),
    _v1('large', '1k', 384, 85.5, 'IN-1K'),
    # V1, ImageNet-22K classifiers (21841 classes): what the in22k detection/segmentation recipes use
    *[_v1(s, '22k', 224, None, 'IN-22K') for s in ('tiny', 'small', 'base', 'large', 'xlarge')],
    # V1, ImageNet-22K pre-trained, ImageNet-1K fine-tuned (XL as EMA)
    *[
        _v1(s, '22k_1k', 224, t, 'IN-22K -> IN-1K', ema=s == 'xlarge')
        for s, t in (('tiny', 82.9), ('small', 84.6), ('base', 85.8), ('large', 86.6), ('xlarge', 87.0))
    ],
    *[
        _v1(s, '22k_1k', 384, t, 'IN-22K -> IN-1K', ema=s == 'xlarge')
        for s, t in (('tiny', 84.1), ('small', 85.8), ('base', 86.8), ('large', 87.5), ('xlarge', 87.8))
    ],
    # V2, FCMAE pre-trained only (self-supervised on ImageNet-1K images)
    *[
        _v2(s, 'pt_only', '1k', 224, None, 'FCMAE', suffix='fcmae')
        for s in ('atto', 'femto', 'pico', 'nano', 'tiny', 'base', 'large', 'huge')
    ],
    # V2, FCMAE pre-trained, ImageNet-1K fine-tuned (released as EMA only)
    *[
        _v2(s, 'im1k', '1k', 224, t, 'FCMAE -> IN-1K')
        for s, t in (
            ('atto', 76.7),
            ('femto', 78.5),
            ('pico', 80.3),
            ('nano', 81.9),
            ('tiny', 83.0),
            ('base', 84.9),
            ('large', 85.8),
            ('huge', 86.3),
        )
    ],
    # V2, FCMAE pre-trained, ImageNet-22K then ImageNet-1K fine-tuned (EMA)
    *[
        _v2(s, 'im22k', '22k', r, t, 'FCMAE -> IN-22K -> IN-1K')
        for s, r, t in (
            ('nano', 224, 82.1),
            ('nano', 384, 83.4),
            ('tiny', 224, 83.9),
            ('tiny', 384, 85.1),
            ('base', 224, 86.8),
            ('base', 384, 87.7),
            ('large', 224, 87.3),
            ('large', 384, 88.2),
            ('huge', 384, 88.7),
            ('huge', 512, 88.9),
        )
    ],
]
RELEASED_WEIGHTS: Dict[str, ReleasedWeights] = {w.name: w for w in _TABLE}
_BY_URL: Dict[str, ReleasedWeights] = {w.url: w for w in _TABLE}


class WeightsDownloadError(RuntimeError):
    """A checkpoint URL could not be downloaded (offline, unreachable, HTTP error, truncated, bad hash)."""


def is_url(filename) -> bool:
    """Whether ``filename`` is an http(s) URL (the kind :func:`fetch` downloads)."""
    return isinstance(filename, str) and re.match(r'^https?://', filename) is not None


def released(name_or_url: str) -> Optional[ReleasedWeights]:
    """The table entry for a name (``convnext_tiny_1k_224``) or a URL; None if it is not listed."""
    return RELEASED_WEIGHTS.get(name_or_url) or _BY_URL.get(name_or_url)


def cache_dir() -> str:
    """torch hub's checkpoint folder: ``$TORCH_HOME/hub/checkpoints`` (``~/.cache/torch/hub/checkpoints``)."""
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def file_name(url: str) -> str:
    """The cache file name of a URL: its last path component, as torch.hub and mmengine name it."""
    name = osp.basename(urlparse(url).path)
    if not name:
        raise ValueError(
            f'{url!r} does not end in a file name; a checkpoint URL looks like ' f'https://host/path/file.pth'
        )
    return name


def cached_path(url: str, out_dir: Optional[str] = None) -> str:
    """Where :func:`fetch` keeps ``url``: ``out_dir`` (default: :func:`cache_dir`) / file name."""
    return osp.join(out_dir or cache_dir(), file_name(url))


def offline_hint(url: str) -> str:
    """How to run without network access: the cache file and the ``--cfg-options`` that replaces the URL."""
    name = file_name(url)
    entry = released(url)
    tool = (
        f'`python tools/download_weights.py --name {entry.name}` or ' if entry else ''
    ) + '`python tools/download_weights.py CONFIG`'
    return (
        f'Without network access, download {url} elsewhere (for example with {tool}), '
        f'then either copy it to {cached_path(url)} '
        f'(the cache file {name!r} is used without network access) or point the config at your copy: '
        f'--cfg-options model.backbone.init_cfg.checkpoint=/path/to/{name} '
        f'(for a classification fine-tuning config: model.finetune.checkpoint=/path/to/{name})'
    )


def download(url: str, dst: str, progress: bool = True, timeout: float = 30.0) -> str:
    """Download ``url`` to ``dst`` atomically; return ``dst``.

    The data go to a temporary file in ``dst``'s folder, which is renamed to ``dst`` only after the
    length matched ``Content-Length`` and, if ``dst``'s name carries a hash prefix
    (``name-<hex>.ext``), the SHA-256 matched it. On any failure the temporary file is removed and
    ``dst`` is left as it was.

    Raises:
        WeightsDownloadError: naming the URL, the reason and how to work offline.
    """
    folder = osp.dirname(osp.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    match = HASH_REGEX.search(osp.basename(dst))
    hash_prefix = match.group(1) if match and match.group(1) else None
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(dst)}.', suffix='.partial')
    try:
        try:
            request = urllib.request.Request(url, headers={'User-Agent': 'convnext_dense'})
            with urllib.request.urlopen(request, timeout=timeout) as response, os.fdopen(fd, 'wb') as f:
                fd = None
                header = response.headers.get('Content-Length')
                expected = int(header) if header is not None and header.strip().isdigit() else None
                sha256 = hashlib.sha256()
                received = 0
                from tqdm import tqdm

                with tqdm(
                    total=expected,
                    disable=not progress,
                    unit='B',
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=osp.basename(dst),
                    file=sys.stderr,
                    mininterval=1.0,
                ) as bar:
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        f.write(chunk)
                        sha256.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                f.flush()
                os.fsync(f.fileno())
        except urllib.error.HTTPError as e:
            raise WeightsDownloadError(
                f'Downloading {url} failed: HTTP {e.code} {e.reason}. ' f'{offline_hint(url)}'
            ) from e
        except (urllib.error.URLError, http.client.HTTPException, OSError, socket.timeout, ValueError) as e:
            reason = getattr(e, 'reason', e)
            raise WeightsDownloadError(
                f'Could not download {url} ({type(e).__name__}: {reason}); it would be '
                f'cached as {dst}. {offline_hint(url)}'
            ) from e
        if expected is not None and received != expected:
            raise WeightsDownloadError(
                f'Downloading {url} was cut off: {received} of {expected} bytes arrived '
                f'(Content-Length). Nothing was written to {folder}; run again to retry. {offline_hint(url)}'
            )
        if hash_prefix and not sha256.hexdigest().startswith(hash_prefix):
            raise WeightsDownloadError(
                f'Downloaded {url} has SHA-256 {sha256.hexdigest()[:len(hash_prefix) + 4]}..., but its name '
                f'says {hash_prefix}: the download is damaged or the server sent another file. Nothing was '
                f'written to {folder}.'
            )
        os.replace(tmp, dst)
        tmp = None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
    return dst


def fetch(url: str, out_dir: Optional[str] = None, progress: bool = True) -> str:
    """Return the local copy of ``url``, downloading it once into the cache (no network if cached).

    In a distributed run rank 0 downloads while the others wait, as mmengine's ``load_from_http``
    does; the others then read the cache.

    Args:
        url: an http(s) URL.
        out_dir: the folder to keep it in; default :func:`cache_dir`.
        progress: show a progress bar on stderr while downloading.

    Raises:
        WeightsDownloadError: the file is not cached and cannot be downloaded (the message names the
            URL, the cache file and the ``--cfg-options`` for a local copy).
    """
    dst = cached_path(url, out_dir)
    if osp.isfile(dst):
        return dst
    from mmengine.dist import barrier, get_dist_info

    rank, world_size = get_dist_info()
    if rank == 0:
        from mmengine.logging import print_log

        print_log(f'Downloading {url} to {dst}', logger='current')
        download(url, dst, progress=progress)
    if world_size > 1:
        barrier()
        if not osp.isfile(dst):  # rank 0 failed or the cache is not shared between the nodes
            download(url, dst, progress=False)
    return dst


def load_url_checkpoint(url: str, map_location='cpu') -> dict:
    """Fetch ``url`` (see :func:`fetch`) and load it with ``torch.load(weights_only=True)``.

    ``argparse.Namespace`` (the training arguments some released files keep) is allowed; nothing
    else beyond tensors and plain containers.

    Raises:
        WeightsDownloadError: as :func:`fetch`.
        ValueError: the cached file is not a safely loadable checkpoint (says how to re-download it,
            or how to load a trusted copy as a local path).
    """
    path = fetch(url)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch.load raises many types for a bad file
        raise ValueError(
            f'The cached download of {url} ({path}) could not be read with torch.load(weights_only=True) '
            f'({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}). If it is damaged, delete it '
            f'and it is downloaded again on the next run. If it is a checkpoint you trust that holds more '
            f'than tensors, pass it as a local path, which loads with the full pickle: '
            f'--cfg-options model.backbone.init_cfg.checkpoint={path}'
        ) from e


def config_checkpoints(cfg) -> List[Tuple[str, str]]:
    """``(option key, URL)`` of every http(s) ``checkpoint`` in a config's ``model``: what a run downloads.

    E.g. ``[('model.backbone.init_cfg.checkpoint', 'https://...')]``; classification fine-tuning configs
    give ``model.finetune.checkpoint``.
    """
    found: List[Tuple[str, str]] = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == 'checkpoint' and is_url(value):
                    if value not in [url for _, url in found]:
                        found.append((f'{path}.{key}', value))
                else:
                    walk(value, f'{path}.{key}')
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f'{path}.{i}')

    walk(cfg.get('model', {}), 'model')
    return found


def config_urls(cfg) -> List[str]:
    """The http(s) checkpoint URLs of a config's ``model`` (see :func:`config_checkpoints`)."""
    return [url for _, url in config_checkpoints(cfg)]
