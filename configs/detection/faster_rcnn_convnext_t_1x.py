# Faster R-CNN (boxes only), ConvNeXt-T (ImageNet-1K), 1x: mask_rcnn_convnext_t_1x.py without the mask branch,
# for COCO-format data without "segmentation" (the backbone recipe: drop path 0.4, lr 1e-4, layer decay
# 0.95 over 6 layers, AMP; the multi-scale + crop augmentation). No ConvNeXt Faster R-CNN result is published.
_base_ = [
    '_base_/models/faster_rcnn_convnext_fpn.py',
    '_base_/datasets/coco_detection_ms_crop.py',
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
