"""The backbones the benchmark compares, built with deterministic random weights.

``convnext`` (this project's :class:`~convnext_dense.models.ConvNeXt` in the mode a config uses),
``convnext-fused`` (after :meth:`ConvNeXt.fuse`), ``convnext-ref`` (``channels_last=False,
onednn=False``: the block as released) and ``timm`` (timm's ``convnext_*`` with ``features_only``,
plus the same output norms) all share the same random weights, so their outputs can be compared;
``swin`` is mmdet's Swin-T with its own weights. The weights are mapped from timm's layout to ours by
the project's one key-mapping function (:func:`convnext_dense.models.convert_state_dict`).
"""

import re
from typing import Dict, Optional

import torch
import torch.nn as nn

from ..errors import ConfigError

__all__ = ['BACKBONES', 'SWIN_T', 'TINY', 'TimmConvNeXt', 'build_backbone', 'timm_to_ours']

# ConvNeXt-T's widths and depths; Swin-T as in mmdet's and the paper's configs.
TINY = dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768))
SWIN_T = dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24))
# Our ConvNeXt's options per benchmark name.
_OURS = {'convnext': {}, 'convnext-fused': {}, 'convnext-ref': dict(onednn=False)}
BACKBONES = tuple(_OURS) + ('timm', 'swin')


class TimmConvNeXt(nn.Module):
    """timm's ConvNeXt (``features_only``) followed by the same per-stage LayerNorms as ours."""

    def __init__(self, arch: dict):
        super().__init__()
        import timm
        from timm.layers import LayerNorm2d

        self.body = timm.create_model(
            'convnext_tiny',
            pretrained=False,
            features_only=True,
            depths=tuple(arch['depths']),
            dims=tuple(arch['dims']),
        )
        self.norms = nn.ModuleList(LayerNorm2d(d, eps=1e-6) for d in arch['dims'])

    def forward(self, x):
        return tuple(norm(f) for norm, f in zip(self.norms, self.body(x)))


def timm_to_ours(timm_model: TimmConvNeXt) -> Dict[str, torch.Tensor]:
    """The weights of a :class:`TimmConvNeXt` in :class:`ConvNeXt`'s layout."""
    from convnext_dense.models import convert_state_dict

    body = {re.sub(r'^(stem|stages)_(\d+)', r'\1.\2', k): v for k, v in timm_model.body.state_dict().items()}
    state = convert_state_dict(body)
    for i, norm in enumerate(timm_model.norms):
        state[f'norm{i}.weight'], state[f'norm{i}.bias'] = norm.weight, norm.bias
    return state


def _randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights everywhere (norm scales around 1), so equality checks test something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            one = p.dim() == 1 and name.endswith('weight') and 'norm' in name
            p.copy_(torch.randn(p.shape, generator=g) * (0.1 if p.dim() == 1 else 0.02) + (1.0 if one else 0.0))
    return model


def _swin(arch: dict, channels_last: bool, seed: int) -> nn.Module:
    from mmdet.models.backbones import SwinTransformer

    torch.manual_seed(seed)
    swin = arch if 'num_heads' in arch else SWIN_T
    model = SwinTransformer(
        embed_dims=swin['embed_dims'],
        depths=list(swin['depths']),
        num_heads=list(swin['num_heads']),
        window_size=7,
        out_indices=(0, 1, 2, 3),
    )
    model.eval()  # not chained: mmdet's SwinTransformer.train() returns None
    return model.to(memory_format=torch.channels_last) if channels_last else model


def build_backbone(name: str, arch: Optional[dict] = None, channels_last: bool = True, seed: int = 0) -> nn.Module:
    """Build one backbone with deterministic random weights (the ConvNeXt ones share them).

    Args:
        name: 'convnext', 'convnext-fused', 'convnext-ref', 'timm' or 'swin'.
        arch: ``dict(depths, dims)`` of the ConvNeXt (default ConvNeXt-T); Swin-T for 'swin' unless
            ``arch`` has ``embed_dims``/``depths``/``num_heads``.
        channels_last: ours: the ``channels_last`` option; timm/Swin: the model's memory format (the
            input follows, see :class:`~convnext_dense.analysis.subjects.BackboneSubject`).
        seed: weight seed.

    Returns:
        The model in eval mode.

    Example:
        >>> net = build_backbone('convnext', dict(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)))
        >>> [tuple(o.shape) for o in net(torch.zeros(1, 3, 32, 32))]
        [(1, 8, 8, 8), (1, 16, 4, 4), (1, 32, 2, 2), (1, 64, 1, 1)]
    """
    from convnext_dense.models import ConvNeXt

    arch = dict(arch or TINY)
    if name == 'swin':
        return _swin(arch, channels_last, seed)
    if name not in BACKBONES:
        raise ConfigError(
            f'benchmark: unknown backbone {name!r}; use convnext, convnext-fused, convnext-ref, timm, '
            f'swin or config:PATH'
        )
    reference = _randomise(TimmConvNeXt(arch), seed)
    if name == 'timm':
        reference.eval()
        return reference.to(memory_format=torch.channels_last) if channels_last else reference
    ours = ConvNeXt(
        dict(depths=arch['depths'], dims=arch['dims']),
        out_indices=(0, 1, 2, 3),
        channels_last=channels_last and name != 'convnext-ref',
        **_OURS[name],
    )
    ours.load_state_dict(timm_to_ours(reference))
    ours.eval()
    return ours.fuse() if name == 'convnext-fused' else ours
