# UperNet ConvNeXt-XL, ImageNet-22K init, 640x640, 160k iterations, fp32, lr 8e-5
# (paper: 53.6 / 54.0 mIoU).
_base_ = ['./upernet_convnext_b_in22k_640_160k_ade20k.py']
model = dict(
    backbone=dict(
        arch='xlarge', init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_xlarge_22k_224.pth')
    ),
    decode_head=dict(in_channels=[256, 512, 1024, 2048]),
    auxiliary_head=dict(in_channels=1024),
)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=8e-5))
