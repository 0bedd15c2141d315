# mmdet's runtime (hooks, logger, visualizer, env) plus the project's plugin and two checks.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['convnext_dense', 'convnext_dense.datasets'], allow_failed_imports=False)
default_scope = 'mmdet'

# Crash-safe checkpoints (atomic .pth and last_checkpoint, old files deleted only after the new one is
# written) and exact resume (random states in the checkpoint): convnext_dense/engine/hooks.py.
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))

custom_hooks = [
    # Stop at the first NaN/inf loss, naming the iteration and the loss terms; nothing broken is saved.
    dict(type='NonFiniteLossHook'),
    dict(type='RandomStateHook'),
    # The heads' num_classes must equal the number of dataset classes (mmdet's check, before each
    # train and val epoch).
    dict(type='NumClassCheckHook'),
    # Fills '{log_dir}' / '{work_dir}' in CocoMetric's outfile_prefix, so results JSONs land in the run.
    dict(type='CocoOutfileHook'),
]
