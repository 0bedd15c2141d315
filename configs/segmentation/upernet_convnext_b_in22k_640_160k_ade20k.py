# UperNet ConvNeXt-B, ImageNet-22K init, 640x640 crops (slide stride 426), 160k iterations
# (paper: 52.6 / 53.1 mIoU).
_base_ = [
    './_base_/models/upernet_convnext.py',
    './_base_/datasets/ade20k_640x640.py',
    './_base_/schedules/schedule_160k.py',
    './_base_/default_runtime.py',
]
crop_size = (640, 640)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='base', init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_base_22k_224.pth')
    ),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512),
    test_cfg=dict(crop_size=crop_size, stride=(426, 426)),
)
