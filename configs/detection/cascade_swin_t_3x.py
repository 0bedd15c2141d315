# Cascade Mask R-CNN, Swin-T (ImageNet-1K): cascade_convnext_t_3x.py with the backbone and the optimizer
# swapped (Swin's own lr 1e-4, no layer decay); neck, heads, data and schedule are identical.
_base_ = ['./cascade_convnext_t_3x.py', './_base_/models/swin.py']

model = dict(backbone={{_base_.swin_t_backbone}})
optim_wrapper = {{_base_.swin_optim_wrapper}}
