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
:func:`convnext_dense.models.state_dict.convert_state_dict` and loaded by
:func:`convnext_dense.models.checkpoint.load_pretrained`. The LayerNorms are timm's float32 ones
(``LayerNormFp32`` on the NHWC view, ``LayerNorm2dFp32`` channels-first; a float64 input is
normalised in float32 too); GRN computes as timm's, in float32 for float16/bfloat16 inputs; DropPath
and the truncated normal init are timm's. The stage outputs are returned NCHW-contiguous, which mmcv's
RoIAlign needs (see ``forward``).

Fast modes (all give the default's outputs at float32, tested in ``tests/test_models/test_fast_path.py``;
measured in ``docs/benchmark.md``):

* ``channels_last=True`` (default): the whole backbone runs in channels-last memory; each block's
  LayerNorm and Linear layers work on the NHWC *view* of the NCHW tensor, which is free for that
  memory layout (no permute copies). Outputs are still made NCHW-contiguous unless
  ``contiguous_outputs=False``.
* ``onednn=True`` (default): CPU float32 inference without gradients runs each block's MLP
  through oneDNN's fused kernels (Linear + bias + GELU, and Linear + bias + residual add), the same
  ones ``torch.compile`` uses on CPU.
* ``fuse()`` / ``deploy=True``: the blocks' LayerNorm affine is folded into ``pwconv1``, the layer
  scale ``gamma`` (and V2's GRN bias) into ``pwconv2``, the downsampling LayerNorm's affine into the
  2x2 convolution (:func:`~convnext_dense.models.state_dict.fuse_state_dict`). A ``deploy=True``
  model loads fused checkpoints and folds unfused ones on the fly.
* ``compile=True`` (or a dict of ``torch.compile`` options) compiles the backbone's forward; it has
  no graph breaks.
* ``with_cp``: activation checkpointing per block (``True`` / ``'block'``), per stage (``'stage'``)
  or for the blocks of the listed stages (``[2, 3]``).
* float16 / bfloat16 (``torch.autocast`` or a half model): LayerNorm statistics and GRN's sum of
  squares are computed in float32, so large activations do not overflow.

Example:
    >>> import torch
    >>> from convnext_dense.models import ConvNeXt
    >>> net = ConvNeXt('tiny', out_indices=(0, 1, 2, 3)).eval()
    >>> [tuple(f.shape) for f in net(torch.rand(1, 3, 65, 97))]
    [(1, 96, 16, 24), (1, 192, 8, 12), (1, 384, 4, 6), (1, 768, 2, 3)]
    >>> net.out_channels, net.out_strides
    ((96, 192, 384, 768), (4, 8, 16, 32))
"""

from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.registry import MODELS
from timm.layers import DropPath, LayerNorm2dFp32, LayerNormFp32

from ..errors import ConfigError
from .arch import ARCH_SETTINGS, resolve_arch  # noqa: F401  (re-exported: the sizes live in arch.py)
from .base import FeatureBackbone
from .checkpoint import load_pretrained
from .state_dict import fuse_state_dict

_LOW_PRECISION = (torch.float16, torch.bfloat16)
# oneDNN's fused Linear kernels (what inductor uses on CPU); absent from builds without mkldnn.
_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, '_linear_pointwise')


# The two calls of oneDNN's private fused Linear op (the ones inductor emits on CPU), kept in one place:
# the op's signature is not public and may change with torch; tests/test_models/test_fast_path.py
# calls both against plain torch and names the torch version when they break.
def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, gelu: bool) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, followed by exact GELU when ``gelu``, as one oneDNN kernel."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, 'gelu' if gelu else 'none', [], 'none' if gelu else None)


def onednn_linear_add(x: torch.Tensor, other: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.linear(x, weight, bias) + other`` as one oneDNN kernel."""
    return torch.ops.mkldnn._linear_pointwise.binary(x, other, weight, bias, 'add')


class GRN(nn.Module):
    """Global Response Normalization (ConvNeXt V2) on NHWC tensors, as timm's ``GlobalResponseNorm``.

    Ours, not timm's: timm's sums squares in the input dtype (float16 overflows) and always has a bias.
    The L2 norm over space is computed in float32. ``bias=False`` drops the bias, which
    :meth:`ConvNeXt.fuse` folds into the next Linear.
    """

    def __init__(self, dim: int, eps: float = 1e-6, bias: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype in _LOW_PRECISION:  # x * x_n alone can overflow float16: scale x_n by the weight first
            x_g = x.float().norm(p=2, dim=(1, 2), keepdim=True)
            scale = (self.weight.float() * (x_g / (x_g.mean(dim=-1, keepdim=True) + self.eps))).to(x.dtype)
            if self.bias is None:
                return x + x * scale
            return x + torch.addcmul(self.bias.to(x.dtype), x, scale)
        x_g = x.norm(p=2, dim=(1, 2), keepdim=True)  # float32: timm's order of operations
        x_n = x_g / (x_g.mean(dim=-1, keepdim=True) + self.eps)
        if self.bias is None:
            return x + self.weight * (x * x_n)
        return x + torch.addcmul(self.bias, self.weight, x * x_n)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block: dwconv 7x7 -> LN -> Linear 4C -> GELU -> (GRN) -> Linear C -> gamma -> drop path.

    Args:
        dim: channels.
        drop_path: stochastic depth rate of this block.
        layer_scale_init_value: initial value of the per-channel scale ``gamma``; 0 disables it.
        grn: use Global Response Normalization after the activation (ConvNeXt V2).
        mlp_ratio: hidden width of the MLP relative to ``dim``.
        deploy: the folded structure of :meth:`ConvNeXt.fuse` (no LN affine, no ``gamma``, no GRN bias).
        onednn: use oneDNN's fused kernels for CPU float32 inference without gradients.
    """

    def __init__(
        self,
        dim: int,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 1e-6,
        grn: bool = False,
        mlp_ratio: int = 4,
        deploy: bool = False,
        onednn: bool = True,
    ):
        super().__init__()
        hidden = int(mlp_ratio * dim)
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = LayerNormFp32(dim, eps=1e-6, affine=not deploy)  # on the NHWC view
        self.pwconv1 = nn.Linear(dim, hidden)  # a 1x1 conv as a Linear on NHWC: faster, as released
        self.act = nn.GELU()
        self.grn = GRN(hidden, eps=1e-6, bias=not deploy) if grn else nn.Identity()
        self.pwconv2 = nn.Linear(hidden, dim)
        self.gamma = (
            nn.Parameter(layer_scale_init_value * torch.ones(dim))
            if layer_scale_init_value > 0 and not deploy
            else None
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.onednn = onednn and _ONEDNN

    def _can_use_onednn(self, x: torch.Tensor, y: torch.Tensor) -> bool:
        return (
            self.onednn
            and not torch.compiler.is_compiling()
            and not torch.jit.is_tracing()
            and not torch.is_grad_enabled()
            and y.device.type == 'cpu'
            and y.dtype == torch.float32
            and not torch.is_autocast_enabled('cpu')
            and y.is_contiguous()
            and x.permute(0, 2, 3, 1).is_contiguous()
            and (not self.training or isinstance(self.drop_path, nn.Identity))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        y = self.dwconv(x).permute(0, 2, 3, 1)  # the NHWC view: free for channels-last memory
        if self._can_use_onednn(x, y):
            return self._forward_onednn(shortcut, y)
        y = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(y)))))
        if self.gamma is not None:
            y = y * self.gamma
        return shortcut + self.drop_path(y.permute(0, 3, 1, 2))

    def _forward_onednn(self, shortcut: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The same block through oneDNN: Linear+bias+GELU, then Linear+bias+residual in one kernel each."""
        gelu = isinstance(self.act, nn.GELU) and self.act.approximate == 'none'
        h = onednn_linear(self.norm(y), self.pwconv1.weight, self.pwconv1.bias, gelu)
        if not gelu:
            h = self.act(h)
        h = self.grn(h)
        weight, bias = self.pwconv2.weight, self.pwconv2.bias
        if self.gamma is not None:  # folded on the fly: a (C, 4C) multiply, small next to the activations
            weight, bias = weight * self.gamma[:, None], bias * self.gamma
        out = onednn_linear_add(h, shortcut.permute(0, 2, 3, 1), weight, bias)
        return out.permute(0, 3, 1, 2)


def _parse_with_cp(with_cp, num_stages: int) -> Tuple[Optional[str], Tuple[int, ...]]:
    """``(mode, stages)`` for ``with_cp``: mode is None, 'block' or 'stage'."""
    if with_cp is None or with_cp is False:
        return None, ()
    if with_cp is True or with_cp == 'block':
        return 'block', tuple(range(num_stages))
    if with_cp == 'stage':
        return 'stage', tuple(range(num_stages))
    if (
        isinstance(with_cp, (list, tuple))
        and all(isinstance(i, int) and not isinstance(i, bool) for i in with_cp)
        and all(-num_stages <= i < num_stages for i in with_cp)
    ):
        return 'block', tuple(sorted({i % num_stages for i in with_cp}))
    raise ConfigError(
        f"ConvNeXt: with_cp={with_cp!r} is not supported; use False, True or 'block' (checkpoint "
        f"each block), 'stage' (each stage as one), or a list of stage indices in "
        f'[{-num_stages}, {num_stages - 1}] whose blocks are checkpointed'
    )


@MODELS.register_module()
class ConvNeXt(FeatureBackbone):
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
        with_cp: activation checkpointing: ``False``; ``True`` or ``'block'`` (every block: less memory,
            about 30% more compute); ``'stage'`` (each stage as one segment: only stage inputs are
            kept, the peak is one stage's activations); or a list of stage indices whose blocks are
            checkpointed (e.g. ``[0, 1]``, the high-resolution stages that hold most activation memory).
        channels_last: run in channels-last memory (no permute copies in the blocks); outputs are the
            same. Default True (faster on CPU and GPU, ``docs/benchmark.md``).
        contiguous_outputs: return NCHW-contiguous maps (default). mmcv's RoIAlign reads raw memory as
            NCHW and needs it; segmentation and classification heads of plain convolutions can take
            channels-last maps and save the copy with ``False``.
        onednn: CPU float32 inference without gradients uses oneDNN's fused Linear kernels (default
            True; outputs equal to float32 rounding). Ignored on GPUs, with gradients, under autocast,
            ``torch.jit.trace`` and ``torch.compile`` (which makes its own fusions). FLOP counters
            that do not know oneDNN's ops should count with gradients enabled (or ``onednn=False``).
        deploy: build the folded structure of :meth:`fuse` (for inference). It loads fused state dicts
            and folds unfused ones (official, timm, this project's) on load.
        compile: ``True`` or a dict of ``torch.compile`` options compiles the backbone's forward (train
            and test); ``False`` (default) runs eagerly.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, use_ema=False)`` loads an official,
            timm, mmpretrain or convnext_dense checkpoint through
            :func:`convnext_dense.models.checkpoint.load_pretrained` (strict about the backbone's keys).

    Registered in mmengine's root ``MODELS``: mmdet's and mmseg's registries are its children and look
    a type up in their parents, so ``type='ConvNeXt'`` builds under ``default_scope='mmdet'`` or
    ``'mmseg'`` after ``custom_imports=dict(imports=['convnext_dense'])``.
    """

    def __init__(
        self,
        arch: Union[str, dict] = 'tiny',
        in_channels: int = 3,
        out_indices: Sequence[int] = (0, 1, 2, 3),
        drop_path_rate: float = 0.0,
        layer_scale_init_value: Optional[float] = None,
        out_norm: bool = True,
        frozen_stages: int = -1,
        with_cp: Union[bool, str, Sequence[int]] = False,
        channels_last: bool = True,
        contiguous_outputs: bool = True,
        onednn: bool = True,
        deploy: bool = False,
        compile: Union[bool, dict] = False,
        init_cfg: Optional[dict] = None,
    ):
        super().__init__(init_cfg=init_cfg)
        settings = resolve_arch(arch)
        self.arch = arch
        self.depths, self.dims = settings['depths'], settings['dims']
        num_stages = len(self.depths)
        self.out_indices = self.check_indices(out_indices, num_stages)
        if not -1 <= frozen_stages <= num_stages:
            raise ConfigError(
                f'ConvNeXt: frozen_stages={frozen_stages} is out of range; use -1 (train all), '
                f'0 (freeze the stem) or 1..{num_stages}'
            )
        if not 0.0 <= drop_path_rate < 1.0:
            raise ConfigError(f'ConvNeXt: drop_path_rate={drop_path_rate} must be in [0, 1)')
        if not isinstance(compile, (bool, dict)):
            raise ConfigError(
                f'ConvNeXt: compile={compile!r} must be True, False or a dict of torch.compile '
                f"options such as dict(mode='max-autotune')"
            )
        if layer_scale_init_value is None:
            layer_scale_init_value = 0.0 if settings['grn'] else 1e-6
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        self.cp_mode, self.cp_stages = _parse_with_cp(with_cp, num_stages)
        self.channels_last = channels_last
        self.contiguous_outputs = contiguous_outputs
        self.deploy = deploy
        self.compile_cfg = compile
        self._compiled = None

        self.downsample_layers = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Conv2d(in_channels, self.dims[0], kernel_size=4, stride=4),
                    LayerNorm2dFp32(self.dims[0], eps=1e-6),
                )
            ]
        )
        # Stages after the last returned one are not built: they would be unused parameters (DDP errors).
        built = self.out_indices[-1] + 1
        for i in range(1, built):
            self.downsample_layers.append(
                nn.Sequential(
                    LayerNorm2dFp32(self.dims[i - 1], eps=1e-6, affine=not deploy),
                    nn.Conv2d(self.dims[i - 1], self.dims[i], kernel_size=2, stride=2),
                )
            )

        total = sum(self.depths)  # linear from 0 to drop_path_rate, as torch.linspace (also on the meta device)
        rates = [drop_path_rate * j / max(total - 1, 1) for j in range(total)]
        self.stages = nn.ModuleList()
        for i, (depth, dim) in enumerate(zip(self.depths[:built], self.dims[:built])):
            first = sum(self.depths[:i])
            self.stages.append(
                nn.Sequential(
                    *[
                        ConvNeXtBlock(
                            dim,
                            drop_path=rates[first + j],
                            layer_scale_init_value=layer_scale_init_value,
                            grn=settings['grn'],
                            deploy=deploy,
                            onednn=onednn,
                        )
                        for j in range(depth)
                    ]
                )
            )

        self.out_norm = out_norm
        if out_norm:
            for i in self.out_indices:
                self.add_module(f'norm{i}', LayerNorm2dFp32(self.dims[i], eps=1e-6))

        # What the backbone emits, declared for necks and tests (timm's ``feature_info`` layout).
        self.feature_info = [
            dict(num_chs=self.dims[i], reduction=4 * 2**i, module=f'stages.{i}') for i in self.out_indices
        ]
        if channels_last:
            self.to(memory_format=torch.channels_last)  # the 4-D conv weights, as the activations
        self._register_load_state_dict_pre_hook(self._fold_unfused_on_load, with_module=False)
        self.freeze_stages(self.frozen_stages)

    def load_checkpoint(self, checkpoint: str, use_ema: bool = False, prefix: Optional[str] = None) -> dict:
        """Load a checkpoint of any released layout strictly (:func:`~.checkpoint.load_pretrained`; ``init_cfg``
        calls it). A ``deploy=True`` model folds an unfused file."""
        return load_pretrained(self, checkpoint, use_ema=use_ema, prefix=prefix)

    def _fold_unfused_on_load(self, state_dict, prefix, *args):
        """Load-state-dict pre-hook: a deploy model folds an unfused state dict before loading it.

        Needed beside the loader's fold: :meth:`fuse` loads its own unfused weights through it, and so
        do ``load_state_dict`` and mmengine's ``load_from`` / ``tools/test.py CKPT`` with
        ``deploy=True`` (a whole detector's state dict: ``prefix`` is ``'backbone.'``).
        """
        if self.deploy:
            fuse_state_dict(state_dict, prefix)  # a no-op on fused keys

    @torch.no_grad()
    def fuse(self) -> 'ConvNeXt':
        """Fold the inference-time affine maps into the Linear/conv layers, in place; returns ``self``.

        See :func:`fuse_state_dict` for what folds. The fused model gives the unfused outputs (float32
        rounding: 1e-4 relative, tested) and has the structure of ``ConvNeXt(..., deploy=True)``, so a
        checkpoint saved from it loads into a model built with ``deploy=True``::

            net = ConvNeXt('tiny').fuse()        # or after loading the unfused weights
            torch.save(net.state_dict(), 'convnext_t_fused.pth')
            fused = ConvNeXt('tiny', deploy=True)
            fused.load_state_dict(torch.load('convnext_t_fused.pth'))    # unfused files fold on load

        Training a fused model trains another parameterisation (no LayerNorm affine, no layer scale).
        """
        if self.deploy:
            return self
        state = self.state_dict()
        for i in range(1, len(self.downsample_layers)):
            self.downsample_layers[i][0] = LayerNorm2dFp32(self.dims[i - 1], eps=1e-6, affine=False)
        for stage in self.stages:
            for block in stage:
                block.norm = LayerNormFp32(block.norm.normalized_shape, eps=block.norm.eps, affine=False)
                block.gamma = None
                if isinstance(block.grn, GRN):
                    block.grn.bias = None
        self.deploy = True
        self.load_state_dict(state)  # folded by the pre-hook
        self._compiled = None
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        self.freeze_stages(self.frozen_stages)
        return self

    def _run_stage(self, i: int, stage: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        if self.cp_mode is not None and i in self.cp_stages and x.requires_grad and torch.is_grad_enabled():
            if self.cp_mode == 'stage':
                return cp.checkpoint(stage, x, use_reentrant=False)
            for block in stage:
                x = cp.checkpoint(block, x, use_reentrant=False)
            return x
        return stage(x)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.compile_cfg and not torch.compiler.is_compiling():
            if self._compiled is None:
                options = {} if self.compile_cfg is True else dict(self.compile_cfg)
                self._compiled = torch.compile(self._forward, **options)
            return self._compiled(x)
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        outs: List[torch.Tensor] = []
        for i, (downsample, stage) in enumerate(zip(self.downsample_layers, self.stages)):
            x = self._run_stage(i, stage, downsample(x))
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x) if self.out_norm else x
                # Channels-last maps (from channels_last=True, or from LayerNorm2dFp32's permutes) would be
                # read wrongly by mmcv's RoIAlign, which indexes raw memory as NCHW without checking: it
                # pools scrambled features and Mask R-CNN cannot learn to classify
                # (tests/test_models/test_convnext.py). Hence NCHW-contiguous outputs by default.
                outs.append(out.contiguous() if self.contiguous_outputs else out)
        return tuple(outs)
