"""Engine glue: checkpoint reading for torch >= 2.6 and atomic checkpoint writing.

Layer-wise and stage-wise lr decay come from mmdet's and mmseg's own
``LearningRateDecayOptimizerConstructor``: the backbone keeps the parameter names they parse.
"""
from .checkpoint_io import AtomicLocalBackend, atomic_write, load_from_local, register

register()

__all__ = ['AtomicLocalBackend', 'atomic_write', 'load_from_local', 'register']
