# RetinaNet, ConvNeXt-T (ImageNet-1K), 1x (12 epochs, steps 8/11), 1333x800 + flip, AMP, 8 GPUs x 2 images.
# No ConvNeXt RetinaNet recipe is released (docs/recipes.md, "Other heads"): mmdet's RetinaNet 1x (model, data and
# schedule length, its TTA) with this project's ConvNeXt-T detection optimiser, the values of
# mask_rcnn_convnext_t_1x.py (AdamW lr 1e-4, wd 0.05, layer-wise decay 0.95 over 6 layers, drop path 0.4).
# Built and trained here only at demo scale (configs/detection/demo/retinanet_convnext_demo.py).
_base_ = [
    '_base_/models/retinanet_convnext_fpn.py',
    '_base_/datasets/coco_detection.py',
    '_base_/schedules/adamw_1x.py',
    '_base_/default_runtime.py',
    'mmdet::retinanet/retinanet_tta.py',
]

optim_wrapper = dict(optimizer=dict(lr=1e-4), paramwise_cfg=dict(decay_rate=0.95, num_layers=6))
