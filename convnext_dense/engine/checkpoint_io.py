"""Checkpoint reading and writing that a long run can rely on.

Reading, torch >= 2.6: ``torch.load`` defaults to ``weights_only=True``. mmengine 0.10.7 calls
``torch.load`` without the argument, and its own checkpoints hold more than tensors (the message
hub's ``HistoryBuffer``, numpy scalars, the config text), so ``--resume`` and ``load_from`` of any
mmengine checkpoint fail with ``UnpicklingError: Weights only load failed``. mmengine looks up
local-file loading by scheme in ``CheckpointLoader``; :func:`register` installs a loader for local
paths that passes ``weights_only=False``, the behaviour mmengine was written for. As with any
pickle, load only checkpoints you trust (as before torch 2.6).

Writing: mmengine saves a checkpoint with its file backend's ``put``, which for local paths opens
the final file and writes into it. A run killed during that write (pre-emption, out of disk) leaves
a truncated ``epoch_N.pth`` that ``--resume`` then picks up and fails on. :class:`AtomicLocalBackend`
writes to a temporary file in the same folder, fsyncs it and renames it over the target, so a
checkpoint file is either the old complete one or the new complete one.
"""
import contextlib
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.runner.checkpoint import CheckpointLoader


def load_from_local(filename: str, map_location=None):
    """Load a local checkpoint with the full pickle (``weights_only=False``).

    Raises:
        FileNotFoundError: naming the path.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} does not exist')
    return torch.load(filename, map_location=map_location, weights_only=False)


def atomic_write(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` through a temporary file and ``os.replace``."""
    filepath = os.fspath(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` and ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), filepath)


def register() -> None:
    """Install the local checkpoint loader and the atomic local backend in mmengine."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
