"""Layer-wise learning-rate decay for fine-tuning the ConvNeXt classifier, as the authors' scripts assign it.

mmdet's and mmseg's ``LearningRateDecayOptimizerConstructor`` cover detectors and segmentors only
(they live in those registries). The classifier's fine-tuning recipes need the same thing in
mmengine's registry, in the two forms the authors use:

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
"""

from typing import List, Optional

import torch.nn as nn
from mmdet.engine.optimizers.layer_decay_optimizer_constructor import get_layer_id_for_convnext
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

        groups = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            no_decay = param.ndim == 1 or name.endswith('.bias')
            layer = layer_of(name)
            key = (layer, no_decay)
            if key not in groups:
                scale = self.decay_rate ** (num_layers + 1 - layer)
                groups[key] = dict(
                    params=[],
                    param_names=[],
                    lr=self.base_lr * scale,
                    lr_scale=scale,
                    weight_decay=0.0 if no_decay else self.base_wd,
                    layer_id=layer,
                )
            groups[key]['params'].append(param)
            groups[key]['param_names'].append(name)
        params.extend(groups[k] for k in sorted(groups))
        print_log(
            f'ClsLayerDecayOptimWrapperConstructor: {self.decay_type} decay {self.decay_rate}, '
            f'{num_layers} layers, {len(groups)} parameter groups',
            logger='current',
        )
