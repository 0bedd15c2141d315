"""Engine: hooks, the atomic checkpoint file backend, multi-process runs without a GPU, and the classifier's
layer-decay optimiser constructor.

``import convnext_dense`` registers the hooks and the ``atomic_local`` file backend, and lets torch's
safe loader read mmengine checkpoints; the configs' runtime files select the hooks. Layer-wise and
stage-wise lr decay for detection and segmentation come from mmdet's and mmseg's own
``LearningRateDecayOptimizerConstructor`` (the backbone keeps the parameter names they parse);
:class:`ClsLayerDecayOptimWrapperConstructor` does it for the classifier, which they do not know.
:func:`setup_distributed` (called by ``tools/train.py`` and ``tools/test.py``) prepares a multi-process run on
CPUs: gloo, :class:`CPUDistributedDataParallel` (registered model wrapper) and :class:`CPUSyncBatchNorm`.
"""

from .checkpoint_io import ATOMIC_BACKEND, AtomicLocalBackend, allow_mmengine_checkpoints, atomic_write, register
from .distributed import CPUDistributedDataParallel, CPUSyncBatchNorm, setup_distributed
from .hooks import CocoOutfileHook, NonFiniteLossHook, RandomStateHook, SafeCheckpointHook, UnswappedEMAHook
from .optim import ClsLayerDecayOptimWrapperConstructor, LayoutLearningRateDecayOptimizerConstructor

register()

__all__ = [
    'ATOMIC_BACKEND',
    'AtomicLocalBackend',
    'CPUDistributedDataParallel',
    'CPUSyncBatchNorm',
    'ClsLayerDecayOptimWrapperConstructor',
    'LayoutLearningRateDecayOptimizerConstructor',
    'CocoOutfileHook',
    'NonFiniteLossHook',
    'RandomStateHook',
    'SafeCheckpointHook',
    'UnswappedEMAHook',
    'allow_mmengine_checkpoints',
    'atomic_write',
    'register',
    'setup_distributed',
]
