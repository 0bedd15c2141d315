"""Engine: hooks, the atomic checkpoint file backend, and the classifier's layer-decay optimiser constructor.

``import convnext_dense`` registers the hooks and the ``atomic_local`` file backend, and lets torch's
safe loader read mmengine checkpoints; the configs' runtime files select the hooks. Layer-wise and
stage-wise lr decay for detection and segmentation come from mmdet's and mmseg's own
``LearningRateDecayOptimizerConstructor`` (the backbone keeps the parameter names they parse);
:class:`ClsLayerDecayOptimWrapperConstructor` does it for the classifier, which they do not know.
"""

from .checkpoint_io import ATOMIC_BACKEND, AtomicLocalBackend, allow_mmengine_checkpoints, atomic_write, register
from .hooks import CocoOutfileHook, NonFiniteLossHook, RandomStateHook, SafeCheckpointHook, UnswappedEMAHook
from .layer_decay import LayoutLearningRateDecayOptimizerConstructor  # noqa: F401  (registration)
from .optim import ClsLayerDecayOptimWrapperConstructor

register()

__all__ = [
    'ATOMIC_BACKEND',
    'AtomicLocalBackend',
    'ClsLayerDecayOptimWrapperConstructor',
    'CocoOutfileHook',
    'NonFiniteLossHook',
    'RandomStateHook',
    'SafeCheckpointHook',
    'UnswappedEMAHook',
    'allow_mmengine_checkpoints',
    'atomic_write',
    'register',
]
