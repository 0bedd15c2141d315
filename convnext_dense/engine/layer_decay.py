"""mmdet's / mmseg's layer-wise and stage-wise lr decay for any backbone with ConvNeXt's parameter names.

mmdet 3.3's and mmseg 1.2's ``LearningRateDecayOptimizerConstructor`` assign ConvNeXt's layer ids only when the
backbone's class name contains ``'ConvNeXt'``, and raise ``NotImplementedError`` for any other backbone. The
roadmap backbone (:class:`~convnext_dense.models.ModernizedResNet`) names its parameters as ConvNeXt does
(``downsample_layers.i``, ``stages.i.j``), so the same groups apply to every step; this constructor takes the
layer ids from mmdet's own functions by parameter name, with mmdet's scale ``decay_rate ** (num_layers + 1 -
layer_id)`` and no weight decay on 1-D parameters and biases. On a ConvNeXt it gives mmdet's groups exactly
(``tests/test_configs/test_roadmap_configs.py``).

Config (the same ``paramwise_cfg`` as mmdet's and mmseg's)::

    optim_wrapper = dict(
        constructor='LayoutLearningRateDecayOptimizerConstructor',
        paramwise_cfg=dict(decay_rate=0.95, decay_type='layer_wise', num_layers=6))
"""

from typing import List

import torch.nn as nn
from mmdet.engine.optimizers.layer_decay_optimizer_constructor import (
    get_layer_id_for_convnext,
    get_stage_id_for_convnext,
)
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from ..errors import ConfigError


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
        num_layers = cfg['num_layers'] + 2  # mmdet's count: the stem group and the head group added
        groups = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            no_decay = param.ndim == 1 or name.endswith('.bias')
            if decay_type == 'layer_wise':
                layer_id = get_layer_id_for_convnext(name, cfg['num_layers'])
            else:
                layer_id = get_stage_id_for_convnext(name, num_layers)
            key = f'layer_{layer_id}_{"no_decay" if no_decay else "decay"}'
            if key not in groups:
                scale = cfg['decay_rate'] ** (num_layers - layer_id - 1)
                groups[key] = dict(
                    weight_decay=0.0 if no_decay else self.base_wd,
                    params=[],
                    param_names=[],
                    lr_scale=scale,
                    group_name=key,
                    lr=scale * self.base_lr,
                )
            groups[key]['params'].append(param)
            groups[key]['param_names'].append(name)
        params.extend(groups.values())
        print_log(
            f'LayoutLearningRateDecayOptimizerConstructor: {decay_type} decay {cfg["decay_rate"]} over '
            f'{cfg["num_layers"]} layers, {len(groups)} parameter groups',
            logger='current',
        )
