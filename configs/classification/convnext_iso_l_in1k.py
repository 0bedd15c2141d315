# Isotropic ConvNeXt-L (paper Table 2: 306M, 59.7 GFLOPs, 82.6 top-1): drop path 0.5 and layer scale 1e-6 (the
# release trains L with the default --layer_scale_init_value, S and B with 0), 64 images per GPU on 64 GPUs
# (facebookresearch/ConvNeXt TRAINING.md). The authors' weights (README top-1 82.6; they hold gamma):
#   --cfg-options model.finetune.checkpoint=https://dl.fbaipublicfiles.com/convnext/convnext_iso_large_1k_224_ema.pth
_base_ = './convnext_iso_s_in1k.py'

model = dict(backbone=dict(arch='large', drop_path_rate=0.5, layer_scale_init_value=1e-6))
train_dataloader = dict(batch_size=64)
