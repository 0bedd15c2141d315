"""Models: the ConvNeXt backbone (registered once for mmdet, mmseg and mmengine), its checkpoint formats
and released weights, the ImageNet classifier and the instance-mask TTA model."""

from mmengine.registry import MODELS as MMENGINE_MODELS

from .checkpoint import convert_state_dict, load_pretrained, read_checkpoint
from .classifier import ClsHead, ConvNeXtClassifier, to_classifier_state_dict
from .convnext import ARCH_SETTINGS, ConvNeXt
from .convnext_isotropic import ConvNeXtIsotropic  # noqa: F401  (registers ConvNeXtIsotropic)
from .data_preprocessor import ClsDataPreprocessor
from .roadmap import ModernizedResNet  # noqa: F401  (registers ModernizedResNet)
from .test_time_augs import InstanceTTAModel
from .weights import RELEASED_WEIGHTS, WeightsDownloadError, fetch

# One registration in mmengine's root registry serves every scope: mmdet's and mmseg's MODELS are its
# children and look a type up in their parents when they do not hold it themselves, so a config with
# default_scope='mmdet' or 'mmseg' says type='ConvNeXt' after custom_imports=dict(imports=['convnext_dense']).
MMENGINE_MODELS.register_module('ConvNeXt', module=ConvNeXt, force=False)

__all__ = [
    'ARCH_SETTINGS',
    'ClsDataPreprocessor',
    'ClsHead',
    'ConvNeXt',
    'ConvNeXtClassifier',
    'InstanceTTAModel',
    'RELEASED_WEIGHTS',
    'WeightsDownloadError',
    'convert_state_dict',
    'fetch',
    'load_pretrained',
    'read_checkpoint',
    'to_classifier_state_dict',
]
