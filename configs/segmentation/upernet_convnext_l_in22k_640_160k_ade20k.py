# UperNet ConvNeXt-L, ImageNet-22K init, 640x640, 160k iterations, fp32 as in the paper
# (paper: 53.2 / 53.7 mIoU).
_base_ = ['./upernet_convnext_b_in22k_640_160k_ade20k.py']
model = dict(
    backbone=dict(
        arch='large', init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_large_22k_224.pth')
    ),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768),
)
optim_wrapper = dict(type='OptimWrapper')
