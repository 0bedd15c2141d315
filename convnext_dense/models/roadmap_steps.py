"""The paper's roadmap from ResNet to ConvNeXt as data: the steps, what each one changes, and the paper's results.

Source: Liu et al., "A ConvNet for the 2020s", CVPR 2022 (arXiv 2201.03545), Section 2 and Figure 2 (the
steps, in order), Figure 3 (the block layouts), Appendix C with Tables 10 and 11 (accuracy and GFLOPs of every
step, in the ResNet-50 / Swin-T and the ResNet-200 / Swin-B regime). ``docs/roadmap.md`` explains each step
and the details the paper leaves open. :class:`~convnext_dense.models.roadmap.ModernizedResNet` builds a step;
this module depends on nothing but the standard library, so tools can read the table without building models.

The steps are cumulative: each step is its parent with one design decision changed. The kernel sizes are
siblings (each from ``move_up_dwconv``); the path continues from ``kernel_7``, the size the paper adopts.

Example:
    >>> spec = resolve_step('gelu')
    >>> spec.depths, spec.width, spec.block, spec.kernel_size, spec.act, spec.norm
    ((3, 3, 9, 3), 96, 'dwconv_first', 7, 'gelu', 'bn')
    >>> step_path('gelu')[-4:]
    ('inverted_bottleneck', 'move_up_dwconv', 'kernel_7', 'gelu')
    >>> resolve_step('separate_downsampling', 'resnet200').dims
    (128, 256, 512, 1024)
"""

import dataclasses
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

from ..errors import ConfigError

STEPS: Tuple[str, ...] = (
    'resnet',
    'stage_ratio',
    'patchify_stem',
    'depthwise_conv',
    'wider',
    'inverted_bottleneck',
    'move_up_dwconv',
    'kernel_5',
    'kernel_7',
    'kernel_9',
    'kernel_11',
    'gelu',
    'fewer_activations',
    'fewer_norms',
    'layer_norm',
    'separate_downsampling',
)
# Each step's parent: the previous step, except the kernel sizes (siblings) and the step after them.
PARENTS: Dict[str, Optional[str]] = {name: (STEPS[i - 1] if i else None) for i, name in enumerate(STEPS)}
PARENTS.update(
    kernel_5='move_up_dwconv', kernel_7='move_up_dwconv', kernel_9='move_up_dwconv', kernel_11='move_up_dwconv'
)
PARENTS['gelu'] = 'kernel_7'

# What a step changes (regime-independent), Section 2.2-2.6. ``stage_ratio`` and ``wider`` take their values
# from the regime (REGIMES below).
CHANGES: Dict[str, dict] = {
    'patchify_stem': dict(stem='patchify'),  # 2.2: 4x4 stride-4 conv instead of 7x7 stride-2 conv + max pool
    'depthwise_conv': dict(depthwise=True),  # 2.3: the bottleneck's 3x3 conv becomes depthwise
    'inverted_bottleneck': dict(block='inverted'),  # 2.4, Figure 3 (a) -> (b): hidden width 4x the block's
    'move_up_dwconv': dict(block='dwconv_first'),  # 2.5, Figure 3 (b) -> (c): the depthwise conv comes first
    'kernel_5': dict(kernel_size=5),
    'kernel_7': dict(kernel_size=7),
    'kernel_9': dict(kernel_size=9),
    'kernel_11': dict(kernel_size=11),
    'gelu': dict(act='gelu'),  # 2.6: every ReLU becomes GELU
    'fewer_activations': dict(one_activation=True),  # one GELU per block, between the two 1x1 convs
    'fewer_norms': dict(one_norm=True),  # one norm per block, after the depthwise conv
    'layer_norm': dict(norm='ln'),  # every BatchNorm becomes a (channels-first) LayerNorm
    'separate_downsampling': dict(separate_downsampling=True),  # LN + 2x2 stride-2 conv between stages
}

# The two FLOP regimes (Section 2; Appendix C): the starting ResNet and the values of the regime's steps.
REGIMES: Dict[str, dict] = {
    # ResNet-50 -> ConvNeXt-T: (3, 4, 6, 3) -> Swin-T's 1:1:3:1 as (3, 3, 9, 3); width 64 -> Swin-T's 96.
    'resnet50': dict(depths=(3, 4, 6, 3), width=64, stage_ratio=dict(depths=(3, 3, 9, 3)), wider=dict(width=96)),
    # ResNet-200 -> ConvNeXt-B (Appendix C): (3, 24, 36, 3) -> Swin-B's (3, 3, 27, 3) with width 84 at the same
    # step, to keep the FLOPs; width 128 (Swin-B's) after the depthwise conv.
    'resnet200': dict(
        depths=(3, 24, 36, 3), width=64, stage_ratio=dict(depths=(3, 3, 27, 3), width=84), wider=dict(width=128)
    ),
}

# The paper's results per step: (ImageNet-1K top-1 %, its standard deviation over 3 seeds or None, GFLOPs as
# printed). Table 10 (ResNet-50 regime, mean of 3 seeds) and Table 11 (ResNet-200 regime, one run). 'resnet' is
# the ResNet trained with the paper's recipe ("enhanced recipe" rows); with the original recipe the paper gives
# 76.13 (ResNet-50, torchvision) and 78.20 (ResNet-200). Two printed GFLOPs of Table 10 differ from a count of the
# models (BN -> LN 4.46, separate downsampling 4.49; the count gives 4.15 and 4.46): docs/roadmap.md.
PAPER_RESULTS: Dict[str, Dict[str, Tuple[float, Optional[float], float]]] = {
    'resnet50': {
        'resnet': (78.82, 0.07, 4.09),
        'stage_ratio': (79.36, 0.07, 4.53),
        'patchify_stem': (79.51, 0.18, 4.42),
        'depthwise_conv': (78.28, 0.08, 2.35),
        'wider': (80.50, 0.02, 5.27),
        'inverted_bottleneck': (80.64, 0.03, 4.64),
        'move_up_dwconv': (79.92, 0.08, 4.07),
        'kernel_5': (80.35, 0.08, 4.10),
        'kernel_7': (80.57, 0.14, 4.15),
        'kernel_9': (80.57, 0.06, 4.21),
        'kernel_11': (80.47, 0.11, 4.29),
        'gelu': (80.62, 0.14, 4.15),
        'fewer_activations': (81.27, 0.06, 4.15),
        'fewer_norms': (81.41, 0.09, 4.15),
        'layer_norm': (81.47, 0.09, 4.46),
        'separate_downsampling': (81.97, 0.06, 4.49),
    },
    'resnet200': {
        'resnet': (81.14, None, 15.01),
        'stage_ratio': (81.33, None, 14.52),
        'patchify_stem': (81.59, None, 14.38),
        'depthwise_conv': (80.54, None, 7.23),
        'wider': (81.85, None, 16.76),
        'inverted_bottleneck': (82.64, None, 15.68),
        'move_up_dwconv': (82.04, None, 14.63),
        'kernel_5': (82.32, None, 14.70),
        'kernel_7': (82.30, None, 14.81),
        'kernel_9': (82.27, None, 14.95),
        'kernel_11': (82.18, None, 15.13),
        'gelu': (82.19, None, 14.81),
        'fewer_activations': (82.71, None, 14.81),
        'fewer_norms': (83.17, None, 14.81),
        'layer_norm': (83.35, None, 14.81),
        'separate_downsampling': (83.60, None, 15.35),
    },
}


@dataclass(frozen=True)
class RoadmapStep:
    """The design of one step: everything :class:`ModernizedResNet` needs to build it.

    Attributes:
        name: the step (one of :data:`STEPS`).
        regime: ``'resnet50'``, ``'resnet200'`` or ``'custom'``.
        depths: blocks per stage.
        width: the base width: the stem's channels and the first stage's (bottleneck: its inner width, the
            stage's output being 4x; inverted blocks: the stage's width, the hidden width being 4x).
        stem: ``'resnet'`` (7x7 stride-2 conv, norm, activation, 3x3 stride-2 max pool) or ``'patchify'``
            (4x4 stride-4 conv, norm, activation).
        depthwise: the spatial conv of the block is depthwise (one group per channel).
        block: ``'bottleneck'`` (1x1 -> kxk -> 1x1, ResNet), ``'inverted'`` (1x1 up to 4x -> depthwise kxk -> 1x1
            down; Figure 3 b) or ``'dwconv_first'`` (depthwise kxk -> 1x1 up -> 1x1 down; Figure 3 c).
        kernel_size: the spatial conv's kernel.
        act: ``'relu'`` or ``'gelu'``.
        one_activation: a single activation per block, between the two 1x1 convs (no activation after the
            residual addition).
        one_norm: a single norm per block, after the depthwise conv.
        norm: ``'bn'`` (BatchNorm) or ``'ln'`` (LayerNorm over channels).
        separate_downsampling: ConvNeXt's stages: a LayerNorm + 2x2 stride-2 conv between stages, ConvNeXt's
            block and stem (the final design).
    """

    name: str
    regime: str
    depths: Tuple[int, ...]
    width: int
    stem: str = 'resnet'
    depthwise: bool = False
    block: str = 'bottleneck'
    kernel_size: int = 3
    act: str = 'relu'
    one_activation: bool = False
    one_norm: bool = False
    norm: str = 'bn'
    separate_downsampling: bool = False

    @property
    def dims(self) -> Tuple[int, ...]:
        """The channels each stage outputs (bottleneck stages: 4x their inner width)."""
        expansion = 4 if self.block == 'bottleneck' else 1
        return tuple(expansion * self.width * 2**i for i in range(len(self.depths)))


def _check_step(step: str):
    if step not in STEPS:
        raise ConfigError(f'ModernizedResNet: step={step!r} is not a roadmap step; choose one of {list(STEPS)}')


def resolve_regime(regime: Union[str, dict]) -> dict:
    """The regime's settings: a name of :data:`REGIMES` or a custom dict in the same form.

    A custom regime (e.g. a small one for a CPU run) is ``dict(depths=(d0, d1, d2, d3), width=w,
    stage_ratio=dict(depths=...), wider=dict(width=...))``; ``stage_ratio`` may also change ``width``.

    Raises:
        ConfigError: an unknown name or a malformed dict.
    """
    if isinstance(regime, str):
        if regime not in REGIMES:
            raise ConfigError(
                f"ModernizedResNet: regime={regime!r}; choose 'resnet50' (-> ConvNeXt-T), 'resnet200' (-> ConvNeXt-B) "
                f'or a dict like {REGIMES["resnet50"]}'
            )
        return REGIMES[regime]
    ok = isinstance(regime, dict) and set(regime) == {'depths', 'width', 'stage_ratio', 'wider'}
    ok = ok and isinstance(regime['stage_ratio'], dict) and isinstance(regime['wider'], dict)
    ok = ok and set(regime['stage_ratio']) <= {'depths', 'width'} and set(regime['wider']) == {'width'}
    if ok:
        depths = [regime['depths'], regime['stage_ratio'].get('depths', regime['depths'])]
        widths = [regime['width'], regime['stage_ratio'].get('width', regime['width']), regime['wider']['width']]
        ok = all(len(d) == 4 and all(isinstance(n, int) and n > 0 for n in d) for d in depths)
        ok = ok and all(isinstance(w, int) and w > 0 for w in widths)
    if not ok:
        raise ConfigError(
            f'ModernizedResNet: regime={regime!r}; a custom regime is a dict of 4 stage depths, a width and the '
            f'values of the regime\'s two steps, e.g. {REGIMES["resnet50"]}'
        )
    return dict(regime, depths=tuple(regime['depths']))


def step_path(step: str) -> Tuple[str, ...]:
    """The steps from ``'resnet'`` to ``step``, in order (the kernel-size siblings are not on each other's path)."""
    _check_step(step)
    path = [step]
    while PARENTS[path[-1]] is not None:
        path.append(PARENTS[path[-1]])
    return tuple(reversed(path))


def resolve_step(step: str, regime: Union[str, dict] = 'resnet50') -> RoadmapStep:
    """The design of ``step`` in ``regime``: the regime's ResNet with the changes of every step on its path.

    Raises:
        ConfigError: an unknown step or regime (the message lists the choices).
    """
    _check_step(step)
    settings = resolve_regime(regime)
    name = regime if isinstance(regime, str) else 'custom'
    spec = RoadmapStep('resnet', name, tuple(settings['depths']), settings['width'])
    for name in step_path(step)[1:]:
        changes = settings[name] if name in ('stage_ratio', 'wider') else CHANGES[name]
        spec = dataclasses.replace(spec, name=name, **{k: tuple(v) if k == 'depths' else v for k, v in changes.items()})
    return spec
