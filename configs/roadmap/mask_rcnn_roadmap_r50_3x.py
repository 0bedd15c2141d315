# Mask R-CNN 3x with any step of the ResNet-50 roadmap as backbone: mask_rcnn_convnext_t_3x.py with the backbone
# swapped; options and notes in mask_rcnn_roadmap_r50_1x.py.
_base_ = ['../detection/mask_rcnn_convnext_t_3x.py', './_base_/roadmap_r50_backbone.py']

model = dict(backbone={{_base_.roadmap_backbone}})
optim_wrapper = dict(constructor='LayoutLearningRateDecayOptimizerConstructor')
