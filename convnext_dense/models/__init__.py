"""Models: the ConvNeXt backbone, registered for mmdet, mmseg and mmengine (classification)."""
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from .checkpoint import convert_state_dict, load_pretrained, read_checkpoint
from .convnext import ARCH_SETTINGS, ConvNeXt
from .weights import RELEASED_WEIGHTS, WeightsDownloadError, fetch

# Registered by name in each scope that builds it: a config with default_scope='mmdet' or 'mmseg'
# says type='ConvNeXt' after custom_imports=dict(imports=['convnext_dense']).
for _registry in (MMENGINE_MODELS, MMDET_MODELS, MMSEG_MODELS):
    _registry.register_module('ConvNeXt', module=ConvNeXt, force=False)

__all__ = ['ARCH_SETTINGS', 'ConvNeXt', 'RELEASED_WEIGHTS', 'WeightsDownloadError', 'convert_state_dict', 'fetch',
           'load_pretrained', 'read_checkpoint']
