"""ImageNet-style classification pretraining of ConvNeXt on mmengine's Runner, with the paper's timm recipe.

Registers in mmengine's root registries (configs use ``default_scope='mmengine'``):

* ``MODELS``: :class:`ConvNeXtClassifier`, :class:`ClsDataPreprocessor`
* ``DATASETS``: :class:`ImageFolderDataset`
* ``METRICS``: :class:`TopKAccuracy`
* ``HOOKS``: :class:`UnswappedEMAHook`
* ``OPTIM_WRAPPER_CONSTRUCTORS``: :class:`ClsLayerDecayOptimWrapperConstructor` (fine-tuning)

The classifier's ``backbone.*`` weights load into the dense backbone of the detection and
segmentation configs with :func:`convnext_dense.models.load_pretrained`. See docs/classification.md.
"""
from .classifier import ClsHead, ConvNeXtClassifier, to_classifier_state_dict
from .data_preprocessor import ClsDataPreprocessor
from .dataset import ImageFolderDataset
from .ema import UnswappedEMAHook
from .metric import TopKAccuracy
from .optim import ClsLayerDecayOptimWrapperConstructor
from .synthetic import SHAPES, generate_imagefolder

__all__ = ['ClsDataPreprocessor', 'ClsHead', 'ClsLayerDecayOptimWrapperConstructor', 'ConvNeXtClassifier',
           'ImageFolderDataset', 'SHAPES', 'TopKAccuracy', 'UnswappedEMAHook', 'generate_imagefolder',
           'to_classifier_state_dict']
