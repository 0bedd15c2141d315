"""Layer-wise learning-rate decay: the classifier's, and the dense models' for every backbone laid out as ConvNeXt.

:class:`ClsLayerDecayOptimWrapperConstructor`: mmdet's and mmseg's ``LearningRateDecayOptimizerConstructor``
cover detectors and segmentors only (they live in those registries). The classifier's fine-tuning recipes
need the same thing in mmengine's registry, in the two forms the authors use:

* ``decay_type='layer_wise'``: facebookresearch/ConvNeXt ``optim_factory.get_num_layer_for_convnext``
  (V1 fine-tuning, ``--layer_decay``), which is also ConvNeXt-V2's ``--layer_decay_type group`` (B/L/H).
  The stem is layer 0; stage 0 -> 1; downsample 1 and stage 1 -> 2; downsample 2 -> 3; stage-2 block
  ``j`` -> ``3 + j // 3``; downsample 3 and stage 3 -> ``num_layers`` (12 in the release); anything
  else (the head) -> ``num_layers + 1``. This is mmdet's ``get_layer_id_for_convnext``, used here as mmdet
  exports it (``tests/test_engine/test_layer_decay.py`` checks its ids against the release's for every
  parameter of the T/S/B classifiers).
* ``decay_type='single'``: ConvNeXt-V2 ``get_num_layer_for_convnext_single`` (``--layer_decay_type
  single``, atto..tiny): every block its own layer. Downsample ``i`` -> ``sum(depths[:i]) + 1``;
  block ``j`` of stage ``i`` -> ``sum(depths[:i]) + j + 1``; the head -> ``sum(depths) + 1``, and
  ``num_layers`` is ``sum(depths)``. Ours: mmdet and mmseg have no such function.

In both, layer ``i`` gets ``lr * decay_rate ** (num_layers + 1 - i)`` (the release's
``LayerDecayValueAssigner`` values), so the head trains at the full lr. As in the release's
``get_parameter_groups``, 1-D parameters (norms, layer-scale ``gamma``, GRN) and biases get no weight
decay.

:class:`LayoutLearningRateDecayOptimizerConstructor`: mmdet 3.3's and mmseg 1.2's constructor assigns
ConvNeXt's layer ids only when the backbone's class name contains ``'ConvNeXt'`` and raises
``NotImplementedError`` for any other backbone. The roadmap backbone
(:class:`~convnext_dense.models.ModernizedResNet`) names its parameters as ConvNeXt does
(``downsample_layers.i``, ``stages.i.j``), so the same groups apply to every step; this constructor takes
the layer ids from mmdet's own functions by parameter name, with the same scales and weight decay. On a
ConvNeXt it gives mmdet's and mmseg's groups exactly (``tests/test_configs/test_roadmap_configs.py``)::

    optim_wrapper = dict(
        constructor='LayoutLearningRateDecayOptimizerConstructor',
        paramwise_cfg=dict(decay_rate=0.95, decay_type='layer_wise', num_layers=6))

Both build their groups with :func:`layer_decay_groups`.
"""

from typing import Callable, List, Optional

import torch.nn as nn
from mmdet.engine.optimizers.layer_decay_optimizer_constructor import (
    get_layer_id_for_convnext,
    get_stage_id_for_convnext,
)
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from ..errors import ConfigError

DECAY_TYPES = ('layer_wise', 'single')


def layer_id_single(name: str, depths) -> int:
    """ConvNeXt-V2's per-block layer id of a classifier parameter (``backbone.`` prefix optional).

    Ours: mmdet's and mmseg's layer-decay constructors have only the 12-group ``layer_wise`` ids.
    """
    name = name[len('backbone.') :] if name.startswith('backbone.') else name
    parts = name.split('.')
    if parts[0] == 'downsample_layers':
        return sum(depths[: int(parts[1])]) + 1
    if parts[0] == 'stages':
        stage, block = int(parts[1]), int(parts[2])
        return sum(depths[:stage]) + block + 1
    return sum(depths) + 1


def layer_decay_groups(
    module: nn.Module, layer_of: Callable[[str], int], top: int, decay_rate: float, base_lr: float, base_wd: float
) -> List[dict]:
    """Parameter groups by layer: ``lr * decay_rate ** (top - layer)``; no weight decay on 1-D parameters and biases.

    Args:
        module: the model; parameters that do not require gradients are left out.
        layer_of: the layer id of a parameter name.
        top: the layer id that trains at the full lr (the head's).
        decay_rate, base_lr, base_wd: the per-layer factor, and the optimizer's lr and weight decay.

    Returns:
        One group per (layer, decay or not), in that order, with ``params``, ``param_names``, ``lr``,
        ``lr_scale``, ``weight_decay``, ``layer_id`` and ``group_name`` (mmdet's name for it).
    """
    groups = {}
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim == 1 or name.endswith('.bias')
        layer = layer_of(name)
        key = (layer, no_decay)
        if key not in groups:
            scale = decay_rate ** (top - layer)
            groups[key] = dict(
                params=[],
                param_names=[],
                lr=base_lr * scale,
                lr_scale=scale,
                weight_decay=0.0 if no_decay else base_wd,
                layer_id=layer,
                group_name=f'layer_{layer}_{"no_decay" if no_decay else "decay"}',
            )
        groups[key]['params'].append(param)
        groups[key]['param_names'].append(name)
    return [groups[k] for k in sorted(groups)]


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ClsLayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Parameter groups with layer-wise lr decay for :class:`ConvNeXtClassifier` (mmengine scope).

    Config::

        optim_wrapper = dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=5e-5, weight_decay=1e-8),
            constructor='ClsLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(decay_rate=0.8, decay_type='layer_wise', num_layers=12))

    Args in ``paramwise_cfg``:
        decay_rate: the per-layer factor (``--layer_decay``).
        decay_type: ``'layer_wise'`` (V1, V2 'group') or ``'single'`` (V2 'single').
        num_layers: the top layer id for ``'layer_wise'`` (12 as released; smaller models may use
            fewer). Not used by ``'single'``, which counts the model's blocks.

    Raises:
        ConfigError: an unknown ``decay_type``, a ``decay_rate`` outside (0, 1], a missing
            ``num_layers`` for ``'layer_wise'``, or a model without a ConvNeXt ``backbone``.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        extra = sorted(set(paramwise_cfg) - {'decay_rate', 'decay_type', 'num_layers'})
        self.decay_rate = paramwise_cfg.get('decay_rate')
        self.decay_type = paramwise_cfg.get('decay_type', 'layer_wise')
        self.num_layers = paramwise_cfg.get('num_layers')
        if extra:
            raise ConfigError(
                f'ClsLayerDecayOptimWrapperConstructor: paramwise_cfg keys {extra} are not '
                f'used; give decay_rate, decay_type and num_layers only (1-D parameters and biases '
                f'never get weight decay here).'
            )
        if self.decay_type not in DECAY_TYPES:
            raise ConfigError(
                f'ClsLayerDecayOptimWrapperConstructor: decay_type={self.decay_type!r}; use one of ' f'{DECAY_TYPES}'
            )
        if not isinstance(self.decay_rate, (int, float)) or not 0 < self.decay_rate <= 1:
            raise ConfigError(
                f'ClsLayerDecayOptimWrapperConstructor: decay_rate={self.decay_rate!r} must be in (0, 1], '
                f'e.g. paramwise_cfg=dict(decay_rate=0.8, ...)'
            )
        if self.decay_type == 'layer_wise' and not isinstance(self.num_layers, int):
            raise ConfigError(
                "ClsLayerDecayOptimWrapperConstructor: decay_type='layer_wise' needs an int num_layers "
                "(12 in the authors' fine-tuning recipes)"
            )
        super().__init__(optim_wrapper_cfg, paramwise_cfg)  # non-empty: mmengine then calls add_params

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '', is_dcn_module=None) -> None:
        backbone = getattr(module, 'backbone', None)
        depths = getattr(backbone, 'depths', None)
        if depths is None:
            raise ConfigError(
                f'ClsLayerDecayOptimWrapperConstructor: {type(module).__name__} has no ConvNeXt '
                f'backbone (module.backbone.depths); it assigns layers by ConvNeXt parameter names'
            )
        if self.decay_type == 'single':
            num_layers = sum(depths)

            def layer_of(name):
                return layer_id_single(name, depths)
        else:
            num_layers = self.num_layers

            def layer_of(name):
                return get_layer_id_for_convnext(name, num_layers)  # names carry the 'backbone.' prefix mmdet expects

        groups = layer_decay_groups(module, layer_of, num_layers + 1, self.decay_rate, self.base_lr, self.base_wd)
        params.extend(groups)
        print_log(
            f'ClsLayerDecayOptimWrapperConstructor: {self.decay_type} decay {self.decay_rate}, '
            f'{num_layers} layers, {len(groups)} parameter groups',
            logger='current',
        )


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayoutLearningRateDecayOptimizerConstructor(DefaultOptimWrapperConstructor):
    """``LearningRateDecayOptimizerConstructor`` by parameter names, for every backbone laid out as ConvNeXt.

    ``paramwise_cfg``: ``decay_rate``, ``num_layers`` and ``decay_type`` (``'layer_wise'``, mmdet's
    detection recipe, or ``'stage_wise'``, mmseg's segmentation recipe).

    Raises:
        ConfigError: a ``decay_type`` other than those two, or no ``num_layers`` / ``decay_rate``.
    """

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        cfg = self.paramwise_cfg
        decay_type = cfg.get('decay_type', 'layer_wise')
        if decay_type not in ('layer_wise', 'stage_wise') or 'num_layers' not in cfg or 'decay_rate' not in cfg:
            raise ConfigError(
                f'LayoutLearningRateDecayOptimizerConstructor: paramwise_cfg={dict(cfg)}; give decay_rate, num_layers '
                f"and decay_type 'layer_wise' or 'stage_wise'"
            )
        if decay_type == 'layer_wise':

            def layer_of(name):
                return get_layer_id_for_convnext(name, cfg['num_layers'])
        else:

            def layer_of(name):
                return get_stage_id_for_convnext(name, cfg['num_layers'] + 2)  # mmseg's count: stem and head added

        groups = layer_decay_groups(
            module, layer_of, cfg['num_layers'] + 1, cfg['decay_rate'], self.base_lr, self.base_wd
        )
        params.extend(groups)
        print_log(
            f'LayoutLearningRateDecayOptimizerConstructor: {decay_type} decay {cfg["decay_rate"]} over '
            f'{cfg["num_layers"]} layers, {len(groups)} parameter groups',
            logger='current',
        )
