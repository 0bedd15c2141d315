"""ModernizedResNet: any step of the paper's roadmap from ResNet to ConvNeXt, as a 4-stage backbone.

Paper: Liu et al., "A ConvNet for the 2020s", CVPR 2022, Section 2 ("Modernizing a ConvNet: a Roadmap"),
Figures 2-4 and Appendix C (Tables 10 and 11). The steps and what each changes are the table of
:mod:`convnext_dense.models.roadmap_steps`; ``docs/roadmap.md`` explains every step, with its source, and the
details the paper leaves open (the choices made here are summarised below).

* ``step='resnet'`` is torchvision's / timm's ResNet-50 (``regime='resnet50'``) or ResNet-200: its checkpoints
  load as they are (:func:`resnet_to_roadmap` renames ``conv1``/``bn1``/``layer{i}`` to the layout below).
* ``step='separate_downsampling'`` is ConvNeXt-T (ConvNeXt-B for ``regime='resnet200'``), built from the
  ConvNeXt block and layers of :mod:`convnext_dense.models.convnext` with the authors' parameter names: their
  checkpoints (and timm's, mmpretrain's) load as into :class:`~convnext_dense.models.ConvNeXt`.
* Every step has ConvNeXt's top-level layout: the stem is ``downsample_layers.0``, block ``j`` of stage ``i`` is
  ``stages.i.j`` (the intermediate steps downsample inside the first block of a stage, as ResNet does, so they
  have no ``downsample_layers.1..3``). mmdet's and mmseg's layer-wise lr decay therefore group every step's
  parameters as ConvNeXt's.

Choices where the paper is silent (``docs/roadmap.md``): the stem keeps ResNet's norm and activation after
its conv until the last step (BN -> LN and ReLU -> GELU apply to it); the first block of a stage keeps ResNet's
projection shortcut (1x1 stride-2 conv + norm) until the last step; a conv has a bias exactly when no
BatchNorm follows it; layer scale (init 1e-6) from ``fewer_norms`` on, where the residual branch no longer ends
in a norm whose affine weight is a per-channel scale already.

Example:
    >>> import torch
    >>> net = ModernizedResNet('inverted_bottleneck').eval()
    >>> [tuple(f.shape) for f in net(torch.rand(1, 3, 64, 96))]
    [(1, 96, 16, 24), (1, 192, 8, 12), (1, 384, 4, 6), (1, 768, 2, 3)]
    >>> ModernizedResNet('resnet').out_channels, net.out_strides
    ((256, 512, 1024, 2048), (4, 8, 16, 32))
"""

import functools
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS
from timm.layers import DropPath, LayerNorm2dFp32
from torch.nn.modules.batchnorm import _BatchNorm

from ..errors import CheckpointError, ConfigError
from . import convnext
from .base import FeatureBackbone
from .checkpoint import load_state, read_state
from .roadmap_steps import REGIMES, STEPS, RoadmapStep, resolve_step


def _norm(kind: str, channels: int) -> nn.Module:
    # LN over channels, eps 1e-6: the authors' channels-first LayerNorm (timm's LayerNorm2dFp32, as ConvNeXt's).
    return nn.BatchNorm2d(channels) if kind == 'bn' else LayerNorm2dFp32(channels, eps=1e-6)


def _act(kind: str) -> nn.Module:
    return nn.ReLU(inplace=True) if kind == 'relu' else nn.GELU()


def _conv_layers(spec: RoadmapStep, cin: int, cout: int, stride: int) -> List[Tuple[int, int, int, int, int]]:
    """(in, out, kernel, stride, groups) of conv1..conv3 of a block (Figure 3; stride on the spatial conv)."""
    k = spec.kernel_size
    if spec.block == 'bottleneck':
        w = cout // 4
        return [(cin, w, 1, 1, 1), (w, w, k, stride, w if spec.depthwise else 1), (w, cout, 1, 1, 1)]
    hidden = 4 * cout
    if spec.block == 'inverted':
        return [(cin, hidden, 1, 1, 1), (hidden, hidden, k, stride, hidden), (hidden, cout, 1, 1, 1)]
    return [(cin, cin, k, stride, cin), (cin, hidden, 1, 1, 1), (hidden, cout, 1, 1, 1)]  # dwconv_first


class RoadmapBlock(nn.Module):
    """A residual block of the steps before ``separate_downsampling``: ResNet's bottleneck, changed step by step.

    ``conv1 -> norm1 -> act1 -> conv2 -> norm2 -> act2 -> conv3 -> norm3 -> gamma -> drop path -> + shortcut ->
    act``. The convs follow the step's layout (Figure 3); ``fewer_activations`` keeps ``act2`` only (between the
    1x1 convs) and drops ``act``; ``fewer_norms`` keeps ``norm1`` only. Removed layers are ``nn.Identity``. The
    shortcut (``downsample``: 1x1 conv with the block's stride + norm) exists where the shape changes, as in
    torchvision's ResNet, whose names these are (``bn{i}`` there, ``norm{i}`` here).

    Args:
        spec: the step.
        in_channels, out_channels: the block's input and output channels.
        stride: 2 for the first block of stages 1..3.
        drop_path: stochastic depth rate of the residual branch.
        layer_scale_init_value: initial per-channel ``gamma`` on the branch; 0 for none.
    """

    def __init__(
        self,
        spec: RoadmapStep,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 0.0,
    ):
        super().__init__()
        with_norm = (True, False, False) if spec.one_norm else (True, True, True)
        for i, ((cin, cout, k, s, groups), norm) in enumerate(
            zip(_conv_layers(spec, in_channels, out_channels, stride), with_norm), start=1
        ):
            bias = not norm or spec.norm == 'ln'  # a bias before BatchNorm is cancelled by its mean
            self.add_module(f'conv{i}', nn.Conv2d(cin, cout, k, stride=s, padding=k // 2, groups=groups, bias=bias))
            self.add_module(f'norm{i}', _norm(spec.norm, cout) if norm else nn.Identity())
        self.act1 = nn.Identity() if spec.one_activation else _act(spec.act)
        self.act2 = _act(spec.act)
        self.gamma = (
            nn.Parameter(layer_scale_init_value * torch.ones(out_channels)) if layer_scale_init_value > 0 else None
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.act = nn.Identity() if spec.one_activation else _act(spec.act)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=spec.norm == 'ln'),
                _norm(spec.norm, out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.act1(self.norm1(self.conv1(x)))
        y = self.act2(self.norm2(self.conv2(y)))
        y = self.norm3(self.conv3(y))
        if self.gamma is not None:
            y = y * self.gamma[:, None, None]
        return self.act(shortcut + self.drop_path(y))


def _stem(spec: RoadmapStep, in_channels: int) -> nn.Sequential:
    """ResNet's stem, the patchify stem (norm and activation kept), or ConvNeXt's (conv + LN) at the last step."""
    width = spec.width
    if spec.separate_downsampling:
        return nn.Sequential(nn.Conv2d(in_channels, width, 4, stride=4), LayerNorm2dFp32(width, eps=1e-6))
    if spec.stem == 'resnet':
        conv = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=spec.norm == 'ln')
        return nn.Sequential(conv, _norm(spec.norm, width), _act(spec.act), nn.MaxPool2d(3, stride=2, padding=1))
    conv = nn.Conv2d(in_channels, width, 4, stride=4, bias=spec.norm == 'ln')
    return nn.Sequential(conv, _norm(spec.norm, width), _act(spec.act))


# torchvision's and timm's ResNet names -> this layout (the stem is downsample_layers.0, layer{i} is stages.{i-1})
_RESNET_RENAMES = [
    (re.compile(r'^conv1\.'), lambda m: 'downsample_layers.0.0.'),
    (re.compile(r'^bn1\.'), lambda m: 'downsample_layers.0.1.'),
    (re.compile(r'^layer(\d)\.(\d+)\.bn(\d)\.'), lambda m: f'stages.{int(m[1]) - 1}.{m[2]}.norm{m[3]}.'),
    (re.compile(r'^layer(\d)\.'), lambda m: f'stages.{int(m[1]) - 1}.'),
    (re.compile(r'^fc\.'), lambda m: 'head.'),
]


def resnet_to_roadmap(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename a torchvision / timm ResNet state dict (``conv1``, ``bn1``, ``layer{i}``, ``fc``) to this layout.

    Pure; other state dicts (no ``layer1.`` key) are returned unchanged.

    Example:
        >>> sd = {'conv1.weight': 0, 'layer1.0.bn3.weight': 1, 'layer2.0.downsample.1.bias': 2, 'fc.bias': 3}
        >>> list(resnet_to_roadmap(sd))
        ['downsample_layers.0.0.weight', 'stages.0.0.norm3.weight', 'stages.1.0.downsample.1.bias', 'head.bias']
    """
    if not any(k.startswith('layer1.') for k in state_dict):
        return dict(state_dict)
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in _RESNET_RENAMES:
            key, n = pattern.subn(repl, key)
            if n:
                break
        out[key] = value
    return out


@MODELS.register_module()
class ModernizedResNet(FeatureBackbone):
    """A step of the roadmap from ResNet to ConvNeXt; a tuple of NCHW maps at strides 4, 8, 16, 32.

    Args:
        step: one of :data:`~convnext_dense.models.roadmap_steps.STEPS` (``'resnet'`` ... ``'separate_downsampling'``).
        regime: ``'resnet50'`` (ResNet-50 -> ConvNeXt-T, Table 10), ``'resnet200'`` (ResNet-200 -> ConvNeXt-B,
            Table 11) or a custom dict of the same form (e.g. a small regime for CPU runs; see
            :func:`~convnext_dense.models.roadmap_steps.resolve_regime`).
        in_channels: input image channels.
        out_indices: the stages to return (negative indices count from the last stage).
        drop_path_rate: stochastic depth rate of the last block, rising linearly from 0 over all blocks.
        layer_scale_init_value: initial per-channel scale ``gamma`` on every residual branch; ``None`` takes the
            step's default: 1e-6 from ``fewer_norms`` on (the paper's recipe; the branch no longer ends in a
            norm), none before (there the last norm's affine weight is that scale). 0 disables it.
        out_norm: a channels-first LayerNorm on each returned stage (``norm{i}``), as ConvNeXt's dense backbone.
        frozen_stages: -1 trains everything; 0 freezes the stem; k >= 1 freezes the stem and stages 0..k-1.
        norm_eval: keep the BatchNorm layers in eval mode while training (running statistics frozen), as mmdet's
            ResNet does for detectors trained with 2 images per GPU. No effect on LayerNorm steps.
        channels_last: run in channels-last memory (outputs are NCHW-contiguous all the same).
        onednn: ConvNeXt blocks (last step) use oneDNN's fused kernels for CPU float32 inference without
            gradients, as :class:`ConvNeXt`'s; FLOP counters that do not know them count with gradients enabled.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, use_ema=False, prefix=None)``: a checkpoint of this
            step (this project's classifier or backbone; torchvision's or timm's ResNet for ``'resnet'``; the
            authors', timm's or mmpretrain's ConvNeXt for ``'separate_downsampling'``), loaded strictly.
    """

    def __init__(
        self,
        step: str,
        regime: Union[str, dict] = 'resnet50',
        in_channels: int = 3,
        out_indices: Sequence[int] = (0, 1, 2, 3),
        drop_path_rate: float = 0.0,
        layer_scale_init_value: Optional[float] = None,
        out_norm: bool = True,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        channels_last: bool = True,
        onednn: bool = True,
        init_cfg: Optional[dict] = None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.spec = resolve_step(step, regime)
        self.step, self.regime = step, regime
        self.depths, self.dims = self.spec.depths, self.spec.dims
        self.out_indices = self.check_indices(out_indices, len(self.depths))
        if not -1 <= frozen_stages <= len(self.depths):
            raise ConfigError(
                f'{self.what}: frozen_stages={frozen_stages}; use -1, 0 (the stem) or 1..{len(self.depths)}'
            )
        if not 0.0 <= drop_path_rate < 1.0:
            raise ConfigError(f'{self.what}: drop_path_rate={drop_path_rate} must be in [0, 1)')
        if layer_scale_init_value is None:
            layer_scale_init_value = 1e-6 if self.spec.one_norm else 0.0
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.channels_last, self.out_norm = channels_last, out_norm

        self.downsample_layers = nn.ModuleList([_stem(self.spec, in_channels)])
        built = self.out_indices[-1] + 1  # stages after the last returned one would be unused parameters (DDP)
        total = sum(self.depths)
        rates = [drop_path_rate * j / max(total - 1, 1) for j in range(total)]
        self.stages = nn.ModuleList()
        for i in range(built):
            first = sum(self.depths[:i])
            dp = rates[first : first + self.depths[i]]
            if self.spec.separate_downsampling:
                self._add_convnext_stage(i, dp, layer_scale_init_value, onednn)
            else:
                self._add_roadmap_stage(i, dp, layer_scale_init_value)
        if out_norm:
            for i in self.out_indices:
                self.add_module(f'norm{i}', LayerNorm2dFp32(self.dims[i], eps=1e-6))
        # What the backbone emits, for necks and tests (timm's feature_info layout).
        self.feature_info = [
            dict(num_chs=self.dims[i], reduction=4 * 2**i, module=f'stages.{i}') for i in self.out_indices
        ]
        if channels_last:
            self.to(memory_format=torch.channels_last)
        self.freeze_stages(self.frozen_stages)

    def extra_repr(self) -> str:
        return f'step={self.step!r}, regime={self.regime!r}'

    def _add_roadmap_stage(self, i: int, rates: Sequence[float], layer_scale: float):
        cin = self.spec.width if i == 0 else self.dims[i - 1]
        blocks = []
        for j, rate in enumerate(rates):
            stride = 2 if i > 0 and j == 0 else 1
            blocks.append(
                RoadmapBlock(self.spec, cin if j == 0 else self.dims[i], self.dims[i], stride, rate, layer_scale)
            )
        self.stages.append(nn.Sequential(*blocks))

    def _add_convnext_stage(self, i: int, rates: Sequence[float], layer_scale: float, onednn: bool):
        """ConvNeXt's downsampling layer (LN + 2x2 stride-2 conv) and blocks, with its parameter names."""
        if i > 0:
            self.downsample_layers.append(
                nn.Sequential(
                    LayerNorm2dFp32(self.dims[i - 1], eps=1e-6),
                    nn.Conv2d(self.dims[i - 1], self.dims[i], kernel_size=2, stride=2),
                )
            )
        blocks = [
            convnext.ConvNeXtBlock(self.dims[i], drop_path=rate, layer_scale_init_value=layer_scale, onednn=onednn)
            for rate in rates
        ]
        self.stages.append(nn.Sequential(*blocks))

    @property
    def what(self) -> str:
        return f'ModernizedResNet(step={self.step!r}, regime={self.regime!r})'

    def load_checkpoint(self, checkpoint: str, use_ema: bool = False, prefix: Optional[str] = None) -> dict:
        """Load a checkpoint of this step strictly (every weight; the output norms ``norm{i}`` may be absent).

        Returns:
            ``dict(missing=[...], unexpected=[...])``: output norms left initialised, file keys not used.

        Raises:
            CheckpointError: the file does not fit; the message names the steps it does fit.
        """
        state = resnet_to_roadmap(read_state(checkpoint, use_ema=use_ema, prefix=prefix))
        try:
            return load_state(self, state, checkpoint, what=self.what)
        except CheckpointError as error:
            fits = [f'{regime}/{step}' for regime, step in steps_fitting(state)]
            where = f'it fits {", ".join(fits)}' if fits else 'it fits no roadmap step'
            raise CheckpointError(
                f'{error} A roadmap checkpoint fits the step it was trained as ({where}); set '
                f'model.backbone.step (and regime) to it, or give the checkpoint of step {self.step!r}.'
            ) from None

    def train(self, mode: bool = True):
        super().train(mode)
        self.freeze_stages(self.frozen_stages)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        outs = []
        for i, stage in enumerate(self.stages):
            if i < len(self.downsample_layers):
                x = self.downsample_layers[i](x)
            x = stage(x)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x) if self.out_norm else x
                outs.append(out.contiguous())  # mmcv's RoIAlign reads raw memory as NCHW (DEVELOPERS.md)
        return tuple(outs)


def _body_shapes(state: Mapping[str, torch.Tensor]) -> Dict[str, tuple]:
    """Names and shapes of the stem, downsampling and block weights, layer scale and output norms left out."""
    return {
        k: tuple(v.shape)
        for k, v in state.items()
        if re.match(r'^(downsample_layers|stages)\.', k) and not k.endswith('.gamma')
    }


@functools.lru_cache(maxsize=None)
def _step_layout(regime: str, step: str) -> Tuple[Tuple[str, tuple], ...]:
    with torch.device('meta'):  # no memory, no init: a fraction of a second
        model = ModernizedResNet(step, regime, out_norm=False, channels_last=False)
    return tuple(sorted(_body_shapes(model.state_dict()).items()))


def steps_fitting(state: Mapping[str, torch.Tensor]) -> List[Tuple[str, str]]:
    """The ``(regime, step)`` pairs whose backbone has exactly the stem, downsampling and block weights of ``state``.

    Several steps share a layout (``kernel_7``, ``gelu`` and ``fewer_activations`` differ in activations only).
    """
    wanted = tuple(sorted(_body_shapes(state).items()))
    return [(regime, step) for regime in REGIMES for step in STEPS if _step_layout(regime, step) == wanted]
