# The roadmap on the synthetic ADE20K-format textures (python tools/make_demo_data.py ade --out data/synthetic_ade):
# the UperNet demo (configs/segmentation/demo/upernet_convnext_demo.py: 128 px crops, narrowed heads, from scratch)
# with a roadmap step in the demo regime (_base_/demo_regime.py) and a short schedule. BatchNorm steps train their
# statistics. The heads' in_channels are those of the default step; tools/roadmap.py sets them for each step:
#   python tools/roadmap.py --task seg --steps resnet kernel_7 --seeds 0 1
_base_ = ['../../segmentation/demo/upernet_convnext_demo.py', './_base_/demo_regime.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ModernizedResNet',
        step='separate_downsampling',
        regime={{_base_.demo_regime}},
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        layer_scale_init_value=1.0,
    ),
    decode_head=dict(in_channels=[24, 48, 96, 192]),
    auxiliary_head=dict(in_channels=96),
)
optim_wrapper = dict(constructor='LayoutLearningRateDecayOptimizerConstructor')
max_iters = 400
warmup_iters = 50
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
