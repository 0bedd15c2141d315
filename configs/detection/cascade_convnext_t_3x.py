# Cascade Mask R-CNN, ConvNeXt-T (ImageNet-1K), 3x multi-scale + crop, AMP, 8 GPUs x 2 images.
# Paper: 50.4 box AP / 43.7 mask AP on COCO val2017.
#   python tools/train.py configs/detection/cascade_convnext_t_3x.py
_base_ = [
    '_base_/models/cascade_mask_rcnn_convnext_fpn.py',
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
optim_wrapper = dict(optimizer=dict(lr=2e-4), paramwise_cfg=dict(decay_rate=0.7, num_layers=6))
