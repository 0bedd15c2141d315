# mmengine's Runner with the classification pieces registered by convnext_dense.
default_scope = 'mmengine'
custom_imports = dict(imports=['convnext_dense'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3, save_best='accuracy/top1', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

# EMA with decay 0.9999 (momentum = 1 - decay), evaluated during training as released
# (--model_ema_eval). Checkpoints hold the trained weights in state_dict and the EMA in ema_state_dict.
# NonFiniteLossHook and RandomStateHook: a stop at the first NaN/inf loss, and an exact resume
# (convnext_dense/engine/hooks.py); SafeCheckpointHook above writes checkpoints crash-safely.
custom_hooks = [
    dict(type='UnswappedEMAHook', momentum=1e-4, priority='ABOVE_NORMAL'),
    dict(type='NonFiniteLossHook'),
    dict(type='RandomStateHook'),
]

env_cfg = dict(
    cudnn_benchmark=True, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0), dist_cfg=dict(backend='nccl')
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
