# ConvNeXt-L: ImageNet-1K 224 model fine-tuned at 384 (paper: 85.5 top-1): the B recipe with drop path
# 0.95, starting from the EMA weights of the 1K training as TRAINING.md says for L.
_base_ = './convnext_b_in1k_ft_384.py'

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.95),
    finetune=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_large_1k_224_ema.pth'),
)
