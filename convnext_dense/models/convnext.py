"""ConvNeXt V1 and V2 as a multi-stage backbone for mmdet 3.x and mmseg 1.x.

Papers: Liu et al., "A ConvNet for the 2020s", CVPR 2022; Woo et al., "ConvNeXt V2: Co-designing
and Scaling ConvNets with Masked Autoencoders", CVPR 2023.

The block, stem and downsampling follow the authors' release (facebookresearch/ConvNeXt,
``models/convnext.py`` and ``object_detection/mmdet/models/backbones/convnext.py``), and so do the
parameter names (``downsample_layers.i``, ``stages.i.j.dwconv``, ``pwconv1``, ``gamma``,
``norm{i}``). Keeping those names means that

* the authors' classification and detection checkpoints load without renaming, and
* mmdet's and mmseg's ``LearningRateDecayOptimizerConstructor`` (which parse
  ``backbone.stages.<stage>.<block>`` and ``backbone.downsample_layers.<i>``) give the paper's
  layer-wise and stage-wise learning-rate decay with no extra code.

Checkpoints in timm's and mmpretrain's layouts are renamed by
:func:`convnext_dense.models.checkpoint.convert_state_dict`. The small layers (channels-first
LayerNorm, GRN, DropPath, truncated normal init) are timm's. The stage outputs are returned
NCHW-contiguous, which mmcv's RoIAlign needs (see ``forward``).

Example:
    >>> import torch
    >>> from convnext_dense.models import ConvNeXt
    >>> net = ConvNeXt('tiny', out_indices=(0, 1, 2, 3)).eval()
    >>> [tuple(f.shape) for f in net(torch.rand(1, 3, 65, 97))]
    [(1, 96, 16, 24), (1, 192, 8, 12), (1, 384, 4, 6), (1, 768, 2, 3)]
    >>> net.out_channels, net.out_strides
    ((96, 192, 384, 768), (4, 8, 16, 32))
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from timm.layers import DropPath, LayerNorm, LayerNorm2d, trunc_normal_
from timm.layers.grn import GlobalResponseNorm

# depths and widths per stage, from the papers (see also shared RECIPES.md). V2 models use GRN in
# the MLP and no layer scale.
ARCH_SETTINGS: Dict[str, dict] = {
    'tiny': dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)),
    'small': dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768)),
    'base': dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)),
    'large': dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536)),
    'xlarge': dict(depths=(3, 3, 27, 3), dims=(256, 512, 1024, 2048)),
    'v2-atto': dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), grn=True),
    'v2-femto': dict(depths=(2, 2, 6, 2), dims=(48, 96, 192, 384), grn=True),
    'v2-pico': dict(depths=(2, 2, 6, 2), dims=(64, 128, 256, 512), grn=True),
    'v2-nano': dict(depths=(2, 2, 8, 2), dims=(80, 160, 320, 640), grn=True),
    'v2-tiny': dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768), grn=True),
    'v2-base': dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024), grn=True),
    'v2-large': dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536), grn=True),
    'v2-huge': dict(depths=(3, 3, 27, 3), dims=(352, 704, 1408, 2816), grn=True),
}


def resolve_arch(arch: Union[str, dict]) -> dict:
    """Return ``dict(depths, dims, grn)`` for an arch name or a custom dict.

    Args:
        arch: a key of :data:`ARCH_SETTINGS` or ``dict(depths=[...], dims=[...], grn=False)``.

    Raises:
        ValueError: an unknown name, or a custom dict without matching ``depths``/``dims``.
    """
    if isinstance(arch, str):
        if arch not in ARCH_SETTINGS:
            raise ValueError(f'ConvNeXt: unknown arch {arch!r}; choose one of {sorted(ARCH_SETTINGS)} '
                             f"or pass a dict such as dict(depths=[3, 3, 9, 3], dims=[96, 192, 384, 768]).")
        arch = ARCH_SETTINGS[arch]
    if not isinstance(arch, dict):
        raise TypeError(f'ConvNeXt: arch must be a name or a dict, got {type(arch).__name__}: {arch!r}')
    unknown = set(arch) - {'depths', 'dims', 'grn'}
    if unknown or 'depths' not in arch or 'dims' not in arch:
        raise ValueError(f"ConvNeXt: a custom arch needs the keys 'depths' and 'dims' (and optionally 'grn'); "
                         f'got {sorted(arch)}')
    depths, dims = tuple(int(d) for d in arch['depths']), tuple(int(d) for d in arch['dims'])
    if len(depths) != len(dims) or not depths or min(depths) < 1 or min(dims) < 1:
        raise ValueError(f'ConvNeXt: arch depths {depths} and dims {dims} must be positive and of equal length')
    return dict(depths=depths, dims=dims, grn=bool(arch.get('grn', False)))


class Block(nn.Module):
    """ConvNeXt block: dwconv 7x7 -> LN -> Linear 4C -> GELU -> (GRN) -> Linear C -> gamma -> drop path.

    Args:
        dim: channels.
        drop_path: stochastic depth rate of this block.
        layer_scale_init_value: initial value of the per-channel scale ``gamma``; 0 disables it.
        grn: use Global Response Normalization after the activation (ConvNeXt V2).
        mlp_ratio: hidden width of the MLP relative to ``dim``.
    """

    def __init__(self, dim: int, drop_path: float = 0., layer_scale_init_value: float = 1e-6,
                 grn: bool = False, mlp_ratio: int = 4):
        super().__init__()
        hidden = int(mlp_ratio * dim)
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = LayerNorm(dim, eps=1e-6)  # channels last
        self.pwconv1 = nn.Linear(dim, hidden)  # a 1x1 conv as a Linear on NHWC: faster, as released
        self.act = nn.GELU()
        self.grn = GlobalResponseNorm(hidden, eps=1e-6, channels_last=True) if grn else nn.Identity()
        self.pwconv2 = nn.Linear(hidden, dim)
        self.gamma = (nn.Parameter(layer_scale_init_value * torch.ones(dim))
                      if layer_scale_init_value > 0 else None)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.dwconv(x).permute(0, 2, 3, 1)  # NCHW -> NHWC
        x = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(x)))))
        if self.gamma is not None:
            x = x * self.gamma
        return shortcut + self.drop_path(x.permute(0, 3, 1, 2))


class ConvNeXt(BaseModule):
    """ConvNeXt backbone returning a tuple of NCHW feature maps at strides 4, 8, 16, 32.

    Args:
        arch: a size of :data:`ARCH_SETTINGS` ('tiny' ... 'xlarge', 'v2-atto' ... 'v2-huge') or a dict
            ``dict(depths=[...], dims=[...], grn=False)``.
        in_channels: input image channels.
        out_indices: the stages to return (negative indices count from the last stage).
        drop_path_rate: stochastic depth rate of the last block, rising linearly from 0 over all blocks.
        layer_scale_init_value: initial ``gamma``; ``None`` takes the arch default (1e-6 for V1, none
            for V2). The paper's detection and segmentation configs use 1.0.
        out_norm: a channels-first LayerNorm on each returned stage (``norm{i}``), as released for
            detection and segmentation.
        frozen_stages: -1 trains everything; 0 freezes the stem; k >= 1 freezes the stem and stages
            0..k-1 with their downsampling layers (no gradient, eval mode).
        with_cp: activation checkpointing of every block: less memory, about 30% more compute.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, use_ema=False)`` loads an official,
            timm, mmpretrain or convnext_dense checkpoint through
            :func:`convnext_dense.models.checkpoint.load_pretrained` (strict about the backbone's keys).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 out_norm: bool = True,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        settings = resolve_arch(arch)
        self.arch = arch
        self.depths, self.dims = settings['depths'], settings['dims']
        num_stages = len(self.depths)
        self.out_indices = self._check_out_indices(out_indices, num_stages)
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'ConvNeXt: frozen_stages={frozen_stages} is out of range; use -1 (train all), '
                             f'0 (freeze the stem) or 1..{num_stages}')
        if not 0. <= drop_path_rate < 1.:
            raise ValueError(f'ConvNeXt: drop_path_rate={drop_path_rate} must be in [0, 1)')
        if layer_scale_init_value is None:
            layer_scale_init_value = 0. if settings['grn'] else 1e-6
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp

        self.downsample_layers = nn.ModuleList([nn.Sequential(
            nn.Conv2d(in_channels, self.dims[0], kernel_size=4, stride=4), LayerNorm2d(self.dims[0], eps=1e-6))])
        # Stages after the last returned one are not built: they would be unused parameters (DDP errors).
        built = self.out_indices[-1] + 1
        for i in range(1, built):
            self.downsample_layers.append(nn.Sequential(
                LayerNorm2d(self.dims[i - 1], eps=1e-6),
                nn.Conv2d(self.dims[i - 1], self.dims[i], kernel_size=2, stride=2)))

        total = sum(self.depths)  # linear from 0 to drop_path_rate, as torch.linspace (also on the meta device)
        rates = [drop_path_rate * j / max(total - 1, 1) for j in range(total)]
        self.stages = nn.ModuleList()
        for i, (depth, dim) in enumerate(zip(self.depths[:built], self.dims[:built])):
            first = sum(self.depths[:i])
            self.stages.append(nn.Sequential(*[
                Block(dim, drop_path=rates[first + j], layer_scale_init_value=layer_scale_init_value,
                      grn=settings['grn']) for j in range(depth)]))

        self.out_norm = out_norm
        if out_norm:
            for i in self.out_indices:
                self.add_module(f'norm{i}', LayerNorm2d(self.dims[i], eps=1e-6))

        # What the backbone emits, declared for necks and tests (timm's ``feature_info`` layout).
        self.feature_info = [dict(num_chs=self.dims[i], reduction=4 * 2 ** i, module=f'stages.{i}')
                             for i in self.out_indices]
        self._freeze_stages()

    @staticmethod
    def _check_out_indices(out_indices, num_stages: int) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = (out_indices,)
        indices = []
        for index in out_indices:
            if not isinstance(index, int) or not -num_stages <= index < num_stages:
                raise ValueError(f'ConvNeXt: out_indices={tuple(out_indices)} holds {index!r}; each index must be an '
                                 f'int in [{-num_stages}, {num_stages - 1}] for a {num_stages}-stage model')
            indices.append(index % num_stages)
        if not indices or len(set(indices)) != len(indices):
            raise ValueError(f'ConvNeXt: out_indices={tuple(out_indices)} must name distinct stages, at least one')
        return tuple(sorted(indices))

    @property
    def out_channels(self) -> Tuple[int, ...]:
        return tuple(info['num_chs'] for info in self.feature_info)

    @property
    def out_strides(self) -> Tuple[int, ...]:
        return tuple(info['reduction'] for info in self.feature_info)

    def init_weights(self):
        """Truncated-normal init as released, then the pretrained weights if ``init_cfg`` names them."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                trunc_normal_(m.weight, std=.02)
                nn.init.constant_(m.bias, 0)
        if self.init_cfg is not None:
            init_cfg = dict(self.init_cfg)
            if init_cfg.pop('type', None) != 'Pretrained':
                raise ValueError(f"ConvNeXt: init_cfg={self.init_cfg} is not supported; use "
                                 f"dict(type='Pretrained', checkpoint=PATH) or None")
            from .checkpoint import load_pretrained  # local import: checkpoint.py imports this module
            load_pretrained(self, init_cfg.pop('checkpoint'), **init_cfg)
        self._is_init = True

    def _freeze_stages(self):
        frozen = list(self.downsample_layers[:self.frozen_stages + 1] if self.frozen_stages >= 0 else [])
        frozen += list(self.stages[:max(self.frozen_stages, 0)])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        return self

    def _run_stage(self, stage: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            for block in stage:
                x = cp.checkpoint(block, x, use_reentrant=False)
            return x
        return stage(x)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = []
        for i, (downsample, stage) in enumerate(zip(self.downsample_layers, self.stages)):
            x = self._run_stage(stage, downsample(x))
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x) if self.out_norm else x
                # timm's LayerNorm2d (permute, layer_norm, permute back) leaves the maps channels-last in
                # memory, and the convolutions after it keep that layout (FPN outputs included). mmcv's
                # RoIAlign indexes raw memory as NCHW without checking: on such maps it pools scrambled
                # features, and Mask R-CNN cannot learn to classify (tests/test_models/test_convnext.py).
                outs.append(out.contiguous())
        return tuple(outs)
