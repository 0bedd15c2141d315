# mmseg's runtime (scope, env, logging, visualizer, the SegTTAModel wrapper for tools/test.py --tta) plus
# the project's plugin and hooks, as configs/detection/_base_/default_runtime.py does for mmdet.
_base_ = 'mmseg::_base_/default_runtime.py'

custom_imports = dict(imports=['convnext_dense', 'convnext_dense.datasets'], allow_failed_imports=False)
default_scope = 'mmseg'

# Stop at the first NaN/inf loss (naming the iteration and the loss terms); save and restore the random
# states so that a resumed run continues exactly (convnext_dense/engine/hooks.py).
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RandomStateHook')]
