"""Checkpoint reading and writing that a long run can rely on, without changing mmengine for the process.

Reading, torch >= 2.6: ``torch.load`` defaults to ``weights_only=True`` (no arbitrary pickles), and
mmengine 0.10.7 calls it without the argument. Its own checkpoints hold a few types besides tensors
(the message hub's ``HistoryBuffer`` with numpy arrays and scalars, ``collections.OrderedDict``), so
``--resume`` and ``load_from`` of any mmengine checkpoint fail with ``Weights only load failed``.
:func:`allow_mmengine_checkpoints` adds exactly those types to torch's allow-list
(``torch.serialization.add_safe_globals``): the safe loader stays on for every file, which matters
because users load checkpoints downloaded from the internet, and a checkpoint is a pickle.

Writing: mmengine saves a checkpoint with its file backend's ``put``, which for local paths opens the
final file and writes into it; a run killed during that write leaves a truncated ``epoch_N.pth``
that ``--resume`` picks up and fails on. :class:`AtomicLocalBackend` writes to a temporary file in
the same folder, fsyncs it and renames it over the target, so a checkpoint file is either the old
complete one or the new complete one. It is registered under its own name, ``atomic_local``, which
:class:`~convnext_dense.engine.hooks.SafeCheckpointHook` selects for its writes; mmengine's own
``local`` backend is left as it is.
"""

import contextlib
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend

ATOMIC_BACKEND = 'atomic_local'


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


def mmengine_checkpoint_globals() -> list:
    """The non-tensor types that mmengine 0.10.7 puts into its checkpoints (found with
    ``torch.serialization.get_unsafe_globals_in_checkpoint`` on this project's demo checkpoints)."""
    from mmengine.logging.history_buffer import HistoryBuffer

    multiarray = np.core.multiarray if hasattr(np, 'core') else np._core.multiarray
    scalar_types = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_]
    return [
        HistoryBuffer,
        multiarray._reconstruct,
        multiarray.scalar,
        np.ndarray,
        np.dtype,
        *scalar_types,
        *(type(np.dtype(t)) for t in scalar_types),
    ]


def allow_mmengine_checkpoints() -> None:
    """Let torch's safe loader (``weights_only=True``) read mmengine's checkpoints."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


def register() -> None:
    """Register the ``atomic_local`` backend and allow mmengine's checkpoint types in the safe loader."""
    register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)
    allow_mmengine_checkpoints()
