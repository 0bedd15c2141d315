# Mask R-CNN, Swin-T (ImageNet-1K): mask_rcnn_convnext_t_3x.py with the backbone and the optimizer
# swapped (as mmdet's mask-rcnn_swin-t-p4-w7_fpn_amp-ms-crop-3x_coco.py); everything else is identical.
_base_ = ['./mask_rcnn_convnext_t_3x.py', './_base_/models/swin.py']

model = dict(backbone={{_base_.swin_t_backbone}})
optim_wrapper = {{_base_.swin_optim_wrapper}}
