# Mask R-CNN 1x with any step of the ResNet-50 roadmap as backbone: mask_rcnn_convnext_t_1x.py with the backbone
# swapped (_base_/roadmap_r50_backbone.py). The default step, separate_downsampling, is ConvNeXt-T with the authors'
# weights: this config then trains the ConvNeXt-T config's model. Another step needs its ImageNet checkpoint
# (configs/roadmap/roadmap_r50_in1k.py) and, before inverted_bottleneck, the neck's widths (docs/roadmap.md):
#   --cfg-options model.backbone.step=gelu model.backbone.init_cfg.checkpoint=work_dirs/roadmap_gelu/epoch_300.pth
# The layer-wise decay is mmdet's, by parameter name (mmdet's own constructor accepts only classes named ConvNeXt).
_base_ = ['../detection/mask_rcnn_convnext_t_1x.py', './_base_/roadmap_r50_backbone.py']

model = dict(backbone={{_base_.roadmap_backbone}})
optim_wrapper = dict(constructor='LayoutLearningRateDecayOptimizerConstructor')
