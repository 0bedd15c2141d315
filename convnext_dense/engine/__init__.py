"""Engine glue: crash-safe checkpoints, exact resume, a stop on non-finite losses.

``import convnext_dense`` registers the hooks and the ``atomic_local`` file backend, and lets torch's
safe loader read mmengine checkpoints; the configs' runtime files select the hooks. Layer-wise and
stage-wise lr decay come from mmdet's and mmseg's own ``LearningRateDecayOptimizerConstructor``: the
backbone keeps the parameter names they parse.
"""
from .checkpoint_io import ATOMIC_BACKEND, AtomicLocalBackend, allow_mmengine_checkpoints, atomic_write, register
from .hooks import NonFiniteLossHook, RandomStateHook, SafeCheckpointHook

register()

__all__ = ['ATOMIC_BACKEND', 'AtomicLocalBackend', 'allow_mmengine_checkpoints', 'atomic_write', 'register',
           'NonFiniteLossHook', 'RandomStateHook', 'SafeCheckpointHook']
