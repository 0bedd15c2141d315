# Cascade Mask R-CNN, ConvNeXt-B (ImageNet-22K), 3x. Paper: 54.0 box / 46.9 mask AP.
_base_ = './cascade_convnext_b_3x.py'

model = dict(
    backbone=dict(
        drop_path_rate=0.6,
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_base_22k_224.pth'),
    )
)
optim_wrapper = dict(optimizer=dict(lr=1e-4), paramwise_cfg=dict(decay_rate=0.8, num_layers=12))
