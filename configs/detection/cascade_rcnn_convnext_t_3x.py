# Cascade R-CNN (boxes only), ConvNeXt-T (ImageNet-1K), 3x: cascade_convnext_t_3x.py without the mask branch, for
# COCO-format data without "segmentation" (the paper's recipe otherwise: drop path 0.4, lr 2e-4, layer decay 0.7
# over 6 layers, AMP, multi-scale + crop). The paper reports Cascade Mask R-CNN only (50.4 box AP).
_base_ = [
    '_base_/models/cascade_rcnn_convnext_fpn.py',
    '_base_/datasets/coco_detection_ms_crop.py',
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
