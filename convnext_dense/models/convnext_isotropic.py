"""Isotropic ConvNeXt: ViT's layout (a 16x16 patchify stem, no downsampling) with ConvNeXt blocks.

Paper: Liu et al., "A ConvNet for the 2020s", CVPR 2022, Section 3.3 and Table 2 (isotropic ConvNeXt-S/B/L:
widths 384/768/1024 as ViT-S/B/L, depths 18/18/36; 22M / 87M / 306M parameters, 4.3 / 16.9 / 59.7 GFLOPs at
224); recipe in Appendix A.1 (warm-up 50 epochs, drop path 0.1/0.2/0.5, layer scale off for S and B). The
module follows the authors' ``models/convnext_isotropic.py`` (facebookresearch/ConvNeXt): a 16x16 stride-16
conv stem without a norm, ConvNeXt blocks (:class:`convnext_dense.models.convnext.ConvNeXtBlock`), and, in the
classifier, global average pooling -> LayerNorm -> Linear, which is :class:`ConvNeXtClassifier`'s head.

Layer scale follows the released checkpoints: only L has ``gamma`` (the authors trained S and B with
``--layer_scale_init_value 0``, L with the default 1e-6), so ``arch='large'`` builds it and the released L
file loads strictly; a loader that builds L without it misses those keys.

Parameter names are the authors' (``blocks.i.dwconv`` ...), except the stem, ``downsample_layers.0`` here as in
every ConvNeXt of this project (the authors' ``stem`` is renamed on load, as timm's ConvNeXt ``stem`` is). So the
released files load through the classifier's ``finetune`` and :func:`to_classifier_state_dict` unchanged.

The backbone returns one stride-16 map. It is meant for classification here: dense prediction would need a
feature pyramid built from that map (as ViTDet does for ViT), which this project does not provide.

Example:
    >>> import torch
    >>> net = ConvNeXtIsotropic(dict(depth=2, dim=32)).eval()
    >>> [tuple(f.shape) for f in net(torch.rand(1, 3, 64, 96))]
    [(1, 32, 4, 6)]
    >>> ConvNeXtIsotropic.settings('large')
    {'depth': 36, 'dim': 1024, 'layer_scale_init_value': 1e-06}
"""

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS

from ..errors import ConfigError
from . import convnext
from .base import FeatureBackbone
from .checkpoint import load_state, read_state

ISOTROPIC_ARCHS: Dict[str, dict] = {
    'small': dict(depth=18, dim=384, layer_scale_init_value=0.0),
    'base': dict(depth=18, dim=768, layer_scale_init_value=0.0),
    'large': dict(depth=36, dim=1024, layer_scale_init_value=1e-6),
}


@dataclass(frozen=True)
class IsotropicWeights:
    """A released isotropic checkpoint (ImageNet-1K, 224, EMA weights under ``model``).

    Attributes:
        arch: the size it fits.
        top1: ImageNet-1K top-1 (%) of the authors' README (the paper's Table 2 gives 79.7 for S).
        url: the authors' download address.
    """

    arch: str
    top1: float
    url: str


_FB = 'https://dl.fbaipublicfiles.com/convnext/'
# facebookresearch/ConvNeXt README.md, "ImageNet-1K trained models (isotropic)"
ISOTROPIC_WEIGHTS: Dict[str, IsotropicWeights] = {
    f'convnext_iso_{arch}_1k_224_ema': IsotropicWeights(arch, top1, f'{_FB}convnext_iso_{arch}_1k_224_ema.pth')
    for arch, top1 in (('small', 78.7), ('base', 82.0), ('large', 82.6))
}


@MODELS.register_module()
class ConvNeXtIsotropic(FeatureBackbone):
    """Isotropic ConvNeXt backbone: a tuple of NCHW maps at stride 16 (one per returned block).

    Args:
        arch: ``'small'``, ``'base'``, ``'large'`` or ``dict(depth=..., dim=...)``.
        in_channels: input image channels.
        patch_size: the stem's kernel and stride (16 as released).
        out_indices: the blocks whose outputs are returned (default: the last one, what the classifier reads).
        out_norm: must be False: no output norms (the classifier's final norm is its ``head.norm``). Accepted
            because :class:`ConvNeXtClassifier` passes it.
        drop_path_rate: stochastic depth rate of the last block, rising linearly from 0.
        layer_scale_init_value: initial ``gamma``; ``None`` takes the arch's (none for S and B, 1e-6 for L, as
            released). 0 disables it.
        channels_last: run in channels-last memory (outputs are NCHW-contiguous all the same).
        onednn: use oneDNN's fused kernels for CPU float32 inference without gradients, as :class:`ConvNeXt`.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH_OR_URL, use_ema=False, prefix=None)`` loads the
            authors' file (or this project's classifier or backbone) strictly.
    """

    def __init__(
        self,
        arch: Union[str, dict] = 'small',
        in_channels: int = 3,
        patch_size: int = 16,
        out_indices: Sequence[int] = (-1,),
        out_norm: bool = False,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: Optional[float] = None,
        channels_last: bool = True,
        onednn: bool = True,
        init_cfg: Optional[dict] = None,
    ):
        super().__init__(init_cfg=init_cfg)
        settings = self.settings(arch)
        self.arch, self.depth, self.dim = arch, settings['depth'], settings['dim']
        if out_norm:
            raise ConfigError(
                'ConvNeXtIsotropic: out_norm=True is not supported; the isotropic models are classification '
                "backbones here (the classifier's head.norm is their final norm)"
            )
        self.out_norm = False
        self.out_indices = self.check_indices(out_indices, self.depth, unit='block')
        if not 0.0 <= drop_path_rate < 1.0:
            raise ConfigError(f'ConvNeXtIsotropic: drop_path_rate={drop_path_rate} must be in [0, 1)')
        if layer_scale_init_value is None:
            layer_scale_init_value = settings['layer_scale_init_value']
        self.channels_last = channels_last
        self.downsample_layers = nn.ModuleList([nn.Conv2d(in_channels, self.dim, patch_size, stride=patch_size)])
        rates = [drop_path_rate * j / max(self.depth - 1, 1) for j in range(self.depth)]
        built = self.out_indices[-1] + 1  # blocks after the last returned one would be unused parameters
        self.blocks = nn.Sequential(
            *[
                convnext.ConvNeXtBlock(
                    self.dim, drop_path=rates[j], layer_scale_init_value=layer_scale_init_value, onednn=onednn
                )
                for j in range(built)
            ]
        )
        self.feature_info = [
            dict(num_chs=self.dim, reduction=patch_size, module=f'blocks.{i}') for i in self.out_indices
        ]
        if channels_last:
            self.to(memory_format=torch.channels_last)

    @staticmethod
    def settings(arch: Union[str, dict]) -> dict:
        """``dict(depth, dim, layer_scale_init_value)`` of a size name or a custom ``dict(depth=..., dim=...)``.

        Raises:
            ConfigError: an unknown name or a malformed dict.
        """
        if isinstance(arch, str) and arch in ISOTROPIC_ARCHS:
            return dict(ISOTROPIC_ARCHS[arch])
        ok = isinstance(arch, dict) and {'depth', 'dim'} <= set(arch) <= {'depth', 'dim', 'layer_scale_init_value'}
        if not ok or not all(isinstance(arch[k], int) and arch[k] > 0 for k in ('depth', 'dim')):
            raise ConfigError(
                f'ConvNeXtIsotropic: arch={arch!r}; choose {sorted(ISOTROPIC_ARCHS)} or give dict(depth=18, dim=384)'
            )
        return dict(dict(layer_scale_init_value=0.0), **arch)

    @property
    def what(self) -> str:
        return f'ConvNeXtIsotropic(arch={self.arch!r})'

    def load_checkpoint(self, checkpoint: str, use_ema: bool = False, prefix: Optional[str] = None) -> dict:
        """Load the authors' file (``stem``, ``blocks``; ``norm``/``head`` unused) or ours, strictly.

        Raises:
            CheckpointError: a weight is missing or has another shape (for L: a file without layer scale, or
                a model built without it, names the ``gamma`` keys).
        """
        hint = (
            " Set model.backbone.arch to the file's size (S: 18 blocks of 384, B: 18 of 768, L: 36 of 1024); only "
            'the released L has layer scale (gamma): layer_scale_init_value=None builds each size as released.'
        )
        state = read_state(checkpoint, use_ema=use_ema, prefix=prefix)
        return load_state(self, state, checkpoint, what=self.what, hint=hint)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.downsample_layers[0](x)
        outs = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.out_indices:
                outs.append(x.contiguous())
        return tuple(outs)
