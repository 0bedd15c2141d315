# Mask R-CNN, ConvNeXt-T (ImageNet-1K), 3x multi-scale + crop, AMP. Paper: 46.2 box / 41.7 mask AP.
_base_ = [
    '_base_/models/mask_rcnn_convnext_fpn.py',
    '_base_/datasets/coco_instance_ms_crop.py',
    '_base_/schedules/adamw_3x.py',
    '_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        arch='tiny',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'),
    )
)
optim_wrapper = dict(optimizer=dict(lr=1e-4), paramwise_cfg=dict(decay_rate=0.95, num_layers=6))
