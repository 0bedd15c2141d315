# UperNet ConvNeXt-B, ImageNet-1K init, 512x512, 160k iterations (paper: 49.1 / 49.9 mIoU).
_base_ = [
    './_base_/models/upernet_convnext.py',
    './_base_/datasets/ade20k.py',
    './_base_/schedules/schedule_160k.py',
    './_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='base', init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_base_1k_224.pth')
    ),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512),
)
