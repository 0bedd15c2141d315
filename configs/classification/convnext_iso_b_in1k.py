# Isotropic ConvNeXt-B (paper Table 2: 87M, 16.9 GFLOPs, 82.0 top-1): the S recipe with drop path 0.2
# (facebookresearch/ConvNeXt TRAINING.md). The authors' weights (README top-1 82.0):
#   --cfg-options model.finetune.checkpoint=https://dl.fbaipublicfiles.com/convnext/convnext_iso_base_1k_224_ema.pth
_base_ = './convnext_iso_s_in1k.py'

model = dict(backbone=dict(arch='base', drop_path_rate=0.2))
