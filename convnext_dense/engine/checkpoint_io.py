"""Checkpoint reading for torch >= 2.6 under mmengine 0.10.x.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7 calls ``torch.load``
without the argument, and its own checkpoints hold more than tensors (the message hub's
``HistoryBuffer``, numpy scalars, the config text), so ``--resume`` and ``load_from`` of any
mmengine checkpoint fail with ``UnpicklingError: Weights only load failed``.

mmengine looks up local-file loading by scheme in ``CheckpointLoader``; this module registers a
loader for local paths that passes ``weights_only=False``, restoring the behaviour mmengine was
written for. That is the documented extension point, so mmengine itself stays unpatched.
As with any pickle, load only checkpoints you trust (as before torch 2.6).
"""
import os.path as osp

import torch
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


def register_checkpoint_loader() -> None:
    """Make mmengine's local-file scheme ('') use :func:`load_from_local`."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
