"""Strict loading of a checkpoint into a backbone that is not the ConvNeXt class (the roadmap steps, isotropic).

:func:`convnext_dense.models.checkpoint.load_pretrained` does this for :class:`ConvNeXt`, with messages that name
ConvNeXt sizes; the other backbones need the same rule without the ConvNeXt arch inference: every weight of the
model must be in the file with the same shape (a missing one is an error, never a silently random layer), keys
of the file the model does not use (a classifier head, a detector's neck) are reported.
"""

import re
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log

from ..errors import CheckpointError
from ..utils import shorten
from .checkpoint import convert_state_dict, read_checkpoint

_BODY = re.compile(r'^(downsample_layers|stages|blocks)\.')


def read_state(filename: str, use_ema: bool = False, prefix: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """A checkpoint's tensors, renamed by :func:`convert_state_dict` (``backbone.``/``module.`` prefixes removed).

    Args:
        filename: path or URL of the checkpoint.
        use_ema: take the file's EMA weights.
        prefix: keep only the keys under this prefix, removed (mmengine's ``Pretrained`` option).

    Raises:
        CheckpointError: nothing in the file is under ``prefix``.
    """
    raw = read_checkpoint(filename, use_ema=use_ema)
    if prefix:
        raw = {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)}
        if not raw:
            raise CheckpointError(f'{filename!r} has no keys under prefix {prefix!r}; drop prefix or fix it')
    return convert_state_dict(raw)


def load_state_strictly(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    source: str,
    what: str,
    optional: Sequence[str] = (),
    hint: str = '',
    body: Callable[[str], bool] = _BODY.match,
) -> Dict[str, List[str]]:
    """Load ``state`` into ``model``: every model key must be there with its shape, except ``optional`` ones, and
    the file may hold no backbone weight (``body``) the model lacks: extra blocks, or a layer scale ``gamma`` the
    model was built without, would change the function if they were dropped silently.

    Args:
        model: the backbone.
        state: the (renamed) state dict.
        source: the file, for messages.
        what: the model, for messages (``"ModernizedResNet(step='gelu')"``).
        optional: regular expressions of model keys that may be absent and stay initialised (output norms
            new for dense prediction).
        hint: the fix to add to the error message (starting with a space).
        body: whether a file key is a backbone weight the model should have (the rest, a classifier head, a
            detector's neck, is reported as unused). Default: stem, downsampling layers, stages and blocks.

    Returns:
        ``dict(missing=[...], unexpected=[...])``: optional keys left initialised, file keys not used.

    Raises:
        CheckpointError: a required key is missing or has another shape, or the file has backbone weights the
            model lacks (names them, and ``hint``).
    """
    own = model.state_dict()
    absent = [k for k in own if k not in state]
    required = [k for k in absent if not any(re.match(p, k) for p in optional)]
    mismatched = [
        f'{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    extra = [k for k in state if k not in own and body(k)]
    if required or mismatched or extra:
        problems = []
        if required:
            problems.append(f'{len(required)} weights are missing: {shorten(required)}')
        if extra:
            problems.append(f'the file has {len(extra)} backbone weights the model lacks: {shorten(extra)}')
        if mismatched:
            problems.append(f'{len(mismatched)} weights have other shapes: {shorten(mismatched, 4)}')
        raise CheckpointError(f'Checkpoint {source!r} does not fit {what}: ' + '; '.join(problems) + '.' + hint)
    unexpected = [k for k in state if k not in own]
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    print_log(
        f'{what}: loaded {len(own) - len(absent)} tensors from {source}; newly initialised: '
        f'{shorten(absent) or "none"}; not used: {shorten(unexpected) or "none"}',
        logger='current',
    )
    return dict(missing=absent, unexpected=unexpected)
