"""Checkpoint URLs: downloaded once into torch hub's cache, completely or not at all, and read safely.

A config may name a checkpoint by URL, as mmdet's and mmseg's configs do::

    init_cfg=dict(type='Pretrained',
                  checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth')

This module follows ``torch.hub``: the same folder (``$TORCH_HOME/hub/checkpoints``, which mmengine
and timm use too, so files already there are reused), the same file names (the URL's last component;
``name-<sha256 prefix>.ext`` carries a hash prefix) and its downloader,
``torch.hub.download_url_to_file``. Around that downloader it adds what a training run needs:

* the length check: a connection closed early leaves a short file without an error from
  ``urllib``; the download must be as long as the server's ``Content-Length``;
* durability: the data are flushed to disk (``fsync``) before the file is renamed into place, so
  the cache never holds a file that a crash could still truncate;
* a timeout, errors that name the URL, the cache file and how to work offline
  (:class:`WeightsDownloadError`), and ``torch.load(weights_only=True)`` for the downloaded file
  (:func:`load_url_checkpoint`): a downloaded file is untrusted.

:func:`fetch` downloads on first use and returns the cached path; later runs read the cache and do
not touch the network. In a distributed run rank 0 downloads while the others wait, as mmengine's
``load_from_http`` does. The table of the authors' released files is
:mod:`convnext_dense.models.weights`; ``tools/download_weights.py`` downloads them ahead of time.
"""

import argparse
import contextlib
import hashlib
import http.client
import os
import os.path as osp
import re
import socket
import tempfile
import urllib.error
import urllib.request
from typing import Iterator, Optional
from urllib.parse import urlparse

import torch

from .errors import CheckpointError, ConfigError, UserError

# torch hub's convention: 'name-<first hex digits of the SHA-256>.ext'
HASH_REGEX = re.compile(r'-([a-f0-9]*)\.')
_CHUNK = 1 << 20


class WeightsDownloadError(UserError, RuntimeError):
    """A checkpoint URL could not be downloaded (offline, unreachable, HTTP error, truncated, bad hash)."""


def cache_dir() -> str:
    """torch hub's checkpoint folder: ``$TORCH_HOME/hub/checkpoints`` (``~/.cache/torch/hub/checkpoints``)."""
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def file_name(url: str) -> str:
    """The cache file name of a URL: its last path component, as torch.hub and mmengine name it."""
    name = osp.basename(urlparse(url).path)
    if not name:
        raise ConfigError(
            f'{url!r} does not end in a file name; a checkpoint URL looks like https://host/path/file.pth'
        )
    return name


def cached_path(url: str, out_dir: Optional[str] = None) -> str:
    """Where :func:`fetch` keeps ``url``: ``out_dir`` (default: :func:`cache_dir`) / file name."""
    return osp.join(out_dir or cache_dir(), file_name(url))


def offline_hint(url: str) -> str:
    """How to run without network access: the cache file and the ``--cfg-options`` that replaces the URL."""
    # The table of released files names the --name of a known URL; imported here, as models imports this module.
    from .models.weights import released

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


def _content_length(url: str, timeout: float) -> Optional[int]:
    """The length the server declares for ``url`` (a HEAD request), or None where it declares none.

    HEAD rather than reading the headers of a second GET: one request for the data, as torch.hub
    makes. A server that answers HEAD with an HTTP error (405/501 where HEAD is not served, 403 for a
    URL signed for GET only) gives None, and the GET that follows decides; an unreachable server
    fails here, within ``timeout``.
    """
    request = urllib.request.Request(url, method='HEAD', headers={'User-Agent': 'convnext_dense'})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            header = response.headers.get('Content-Length')
    except urllib.error.HTTPError as e:
        e.close()
        return None
    return int(header) if header is not None and header.strip().isdigit() else None


@contextlib.contextmanager
def _socket_timeout(timeout: float) -> Iterator[None]:
    """A default socket timeout while torch.hub downloads: its ``urlopen`` has none, and a stalled server
    would hang the run. Only where no default is set (process-wide while it lasts)."""
    if socket.getdefaulttimeout() is not None:
        yield
        return
    socket.setdefaulttimeout(timeout)
    try:
        yield
    finally:
        socket.setdefaulttimeout(None)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _download_to(url: str, tmp: str, dst: str, progress: bool, timeout: float) -> Optional[int]:
    """torch.hub's download of ``url`` into ``tmp``; returns the declared length; errors name ``dst``."""
    try:
        expected = _content_length(url, timeout)
        with _socket_timeout(timeout):
            torch.hub.download_url_to_file(url, tmp, progress=progress)
    except urllib.error.HTTPError as e:
        raise WeightsDownloadError(f'Downloading {url} failed: HTTP {e.code} {e.reason}. {offline_hint(url)}') from e
    except (urllib.error.URLError, http.client.HTTPException, OSError, socket.timeout, ValueError) as e:
        reason = getattr(e, 'reason', e)
        raise WeightsDownloadError(
            f'Could not download {url} ({type(e).__name__}: {reason}); it would be '
            f'cached as {dst}. {offline_hint(url)}'
        ) from e
    return expected


def download(url: str, dst: str, progress: bool = True, timeout: float = 30.0) -> str:
    """Download ``url`` to ``dst`` atomically; return ``dst``.

    ``torch.hub.download_url_to_file`` writes the data to a temporary file in ``dst``'s folder, which
    is renamed to ``dst`` only after its length matched the server's ``Content-Length`` (when the
    server declares one), its SHA-256 matched the hash prefix of ``dst``'s name (``name-<hex>.ext``,
    when it has one) and it was flushed to disk. On any failure the temporary file is removed and
    ``dst`` is left as it was.

    Args:
        url: an http(s) URL.
        dst: the file to write.
        progress: show a progress bar on stderr.
        timeout: seconds a connection may wait for the server (connect, each read).

    Returns:
        ``dst``.

    Raises:
        WeightsDownloadError: naming the URL, the reason and how to work offline.
    """
    folder = osp.dirname(osp.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    match = HASH_REGEX.search(osp.basename(dst))
    hash_prefix = match.group(1) if match and match.group(1) else None
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(dst)}.', suffix='.partial')
    os.close(fd)
    try:
        expected = _download_to(url, tmp, dst, progress, timeout)
        received = osp.getsize(tmp)
        # Shorter than declared: cut off. Longer: the HEAD's length was not this GET's; nothing was lost.
        if expected is not None and received < expected:
            raise WeightsDownloadError(
                f'Downloading {url} was cut off: {received} of {expected} bytes arrived '
                f'(Content-Length). Nothing was written to {folder}; run again to retry. {offline_hint(url)}'
            )
        digest = _sha256(tmp) if hash_prefix else None
        if digest is not None and not digest.startswith(hash_prefix):
            raise WeightsDownloadError(
                f'Downloaded {url} has SHA-256 {digest[:len(hash_prefix) + 4]}..., but its name '
                f'says {hash_prefix}: the download is damaged or the server sent another file. Nothing was '
                f'written to {folder}.'
            )
        _fsync(tmp)
        os.replace(tmp, dst)
        tmp = None
    finally:
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

    Returns:
        The path of the local copy.

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

    The weights-only counterpart of ``torch.hub.load_state_dict_from_url``. ``argparse.Namespace``
    (the training arguments some released files keep) is allowed; nothing else beyond tensors and
    plain containers.

    Args:
        url: an http(s) URL.
        map_location: passed to ``torch.load``.

    Returns:
        The object the file holds.

    Raises:
        WeightsDownloadError: as :func:`fetch`.
        CheckpointError: the cached file is not a safely loadable checkpoint (says how to re-download
            it, or how to load a trusted copy as a local path).
    """
    path = fetch(url)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch.load raises many types for a bad file
        raise CheckpointError(
            f'The cached download of {url} ({path}) could not be read with torch.load(weights_only=True) '
            f'({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}). If it is damaged, delete it '
            f'and it is downloaded again on the next run. If it is a checkpoint you trust that holds more '
            f'than tensors, pass it as a local path, which loads with the full pickle: '
            f'--cfg-options model.backbone.init_cfg.checkpoint={path}'
        ) from e
