# Mask R-CNN, ConvNeXt-T (ImageNet-1K), 1x (12 epochs, steps 8/11): mask_rcnn_convnext_t_3x.py's bases with
# the 1x schedule. No 1x recipe is released (docs/recipes.md), so lr, layer decay and drop path are the 3x
# Mask R-CNN T values.
_base_ = [
    '_base_/models/mask_rcnn_convnext_fpn.py',
    '_base_/datasets/coco_instance_ms_crop.py',
    '_base_/schedules/adamw_1x.py',
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
