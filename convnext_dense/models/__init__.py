"""Models: the ConvNeXt backbone (registered once, in mmengine's root registry, for mmdet, mmseg and
mmengine), its checkpoint loader and state-dict transforms, the table of released weights, the ImageNet
classifier and the instance-mask TTA model.

=======================  ==============================================================================
``convnext.py``          ``ConvNeXt`` (V1 + V2), ``ConvNeXtBlock``, ``GRN``; fast modes (channels-last,
                         oneDNN, ``fuse()``/``deploy``, compile)
``arch.py``              the sizes table ``ARCH_SETTINGS`` and ``resolve_arch``
``state_dict.py``        state-dict transforms: ``convert_state_dict`` (FB, FCMAE, timm, mmpretrain),
                         ``fuse_state_dict``, ``to_classifier_state_dict``, ``infer_arch``
``checkpoint.py``        reading files (``read_checkpoint``), the one fit check (``fit_state_dict``),
                         ``load_pretrained``
``weights.py``           the table of the authors' released files (``RELEASED_WEIGHTS``)
``classifier.py``        ``ConvNeXtClassifier`` (backbone + timm's ``NormMlpClassifierHead``)
``data_preprocessor.py`` ``ClsDataPreprocessor`` (normalise, random erasing, Mixup/CutMix)
``test_time_augs.py``    ``InstanceTTAModel``
``roadmap.py``           ``ModernizedResNet``: the paper's roadmap from ResNet-50 to ConvNeXt-T, step by
                         step (``roadmap_steps.py``: the steps and regimes as data)
``convnext_isotropic.py`` ``ConvNeXtIsotropic`` (the paper's isotropic S/B/L)
=======================  ==============================================================================

Downloading URLs is :mod:`convnext_dense.hub`.
"""

from .checkpoint import fit_state_dict, load_pretrained, load_state, read_checkpoint, read_state
from .classifier import ConvNeXtClassifier
from .convnext import ARCH_SETTINGS, ConvNeXt, ConvNeXtBlock
from .convnext_isotropic import ConvNeXtIsotropic
from .data_preprocessor import ClsDataPreprocessor
from .roadmap import ModernizedResNet
from .state_dict import convert_state_dict, fuse_state_dict, to_classifier_state_dict
from .test_time_augs import InstanceTTAModel
from .weights import RELEASED_WEIGHTS

__all__ = [
    'ARCH_SETTINGS',
    'ClsDataPreprocessor',
    'ConvNeXt',
    'ConvNeXtBlock',
    'ConvNeXtClassifier',
    'ConvNeXtIsotropic',
    'InstanceTTAModel',
    'ModernizedResNet',
    'RELEASED_WEIGHTS',
    'convert_state_dict',
    'fit_state_dict',
    'fuse_state_dict',
    'load_pretrained',
    'load_state',
    'read_checkpoint',
    'read_state',
    'to_classifier_state_dict',
]
