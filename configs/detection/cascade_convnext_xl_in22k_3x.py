# Cascade Mask R-CNN, ConvNeXt-XL (ImageNet-22K), 3x, fp32 (no AMP) as released. Paper: 55.2 box / 47.7 mask AP.
_base_ = './cascade_convnext_l_in22k_3x.py'

model = dict(
    backbone=dict(
        arch='xlarge',
        drop_path_rate=0.8,
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_xlarge_22k_224.pth'),
    ),
    neck=dict(in_channels=[256, 512, 1024, 2048]),
)
