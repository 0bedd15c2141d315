# The roadmap on the synthetic shapes (python tools/make_demo_data.py coco --out data/synthetic_coco): the Mask
# R-CNN demo (configs/detection/demo/mask_rcnn_convnext_demo.py: 128 px, narrowed heads, from scratch) with a roadmap
# step in the demo regime (_base_/demo_regime.py) and a short schedule. BatchNorm steps train their statistics
# (nothing pretrained). The neck's in_channels are those of the default step; tools/roadmap.py sets them for each
# step (resolve_step(step, regime).dims), as must a --cfg-options of tools/train.py for a step before
# inverted_bottleneck:
#   python tools/roadmap.py --task det --steps resnet kernel_7 --seeds 0 1
_base_ = ['../../detection/demo/mask_rcnn_convnext_demo.py', './_base_/demo_regime.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ModernizedResNet',
        step='separate_downsampling',
        regime={{_base_.demo_regime}},
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.0,
        layer_scale_init_value=1.0,
    ),
    neck=dict(in_channels=[24, 48, 96, 192]),
)
# mmdet's layer-wise decay constructor accepts only backbones named ConvNeXt; this one groups by parameter name.
optim_wrapper = dict(constructor='LayoutLearningRateDecayOptimizerConstructor')
max_iters = 300
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[240, 280], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
