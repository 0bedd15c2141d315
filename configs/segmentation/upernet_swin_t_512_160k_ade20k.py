# UperNet Swin-T, ImageNet-1K init, 512x512, 160k iterations: upernet_convnext_t_512_160k_ade20k.py with
# the backbone and the optimizer swapped (Swin's own drop path 0.3, AdamW lr 6e-5, weight decay 0.01, no
# stage-wise decay, fp32); heads, data, schedule length, warm-up and poly decay are identical.
# Paper's comparison: Swin-T 44.5 / 45.8 mIoU.
_base_ = ['./upernet_convnext_t_512_160k_ade20k.py', './_base_/models/swin.py']

model = dict(backbone={{_base_.swin_t_backbone}})
optim_wrapper = {{_base_.swin_optim_wrapper}}
