# UperNet ConvNeXt-S, ImageNet-1K init, 512x512, 160k iterations (paper: 48.7 / 49.6 mIoU).
_base_ = [
    './_base_/models/upernet_convnext.py',
    './_base_/datasets/ade20k.py',
    './_base_/schedules/schedule_160k.py',
    './_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_small_1k_224.pth'),
    )
)
