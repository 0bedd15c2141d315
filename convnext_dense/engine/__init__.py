"""Engine glue: checkpoint reading for torch >= 2.6.

Layer-wise and stage-wise lr decay come from mmdet's and mmseg's own
``LearningRateDecayOptimizerConstructor``: the backbone keeps the parameter names they parse.
"""
from .checkpoint_io import load_from_local, register_checkpoint_loader

register_checkpoint_loader()

__all__ = ['load_from_local', 'register_checkpoint_loader']
