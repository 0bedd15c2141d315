# Cascade Mask R-CNN, ConvNeXt-S (ImageNet-1K), 3x. Paper: 51.9 box / 45.0 mask AP.
_base_ = './cascade_convnext_t_3x.py'

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.6,
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_small_1k_224.pth'),
    )
)
optim_wrapper = dict(optimizer=dict(lr=2e-4), paramwise_cfg=dict(decay_rate=0.7, num_layers=12))
