# Runtime of every segmentation config: our package (convnext_dense registers ConvNeXt,
# convnext_dense.datasets the checked ADE20K datasets), mmseg's scope, logging, drawing and the
# test-time-augmentation wrapper (tools/test.py --tta).
custom_imports = dict(imports=['convnext_dense', 'convnext_dense.datasets'], allow_failed_imports=False)
default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# Multi-scale + flip testing: tools/test.py --tta wraps the model in this and uses tta_pipeline
# (defined with the dataset); predictions are averaged over the scales and flips.
tta_model = dict(type='SegTTAModel')
# Stop at the first NaN/inf loss (naming the iteration and the loss terms); save and restore the random
# states so that a resumed run continues exactly (convnext_dense/engine/hooks.py).
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RandomStateHook')]
