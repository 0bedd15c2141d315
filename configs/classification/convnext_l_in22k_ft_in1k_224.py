# ConvNeXt-L: 22K -> 1K fine-tuning at 224 (paper: 86.6 top-1): the B recipe with drop path 0.3 (TRAINING.md).
_base_ = './convnext_b_in22k_ft_in1k_224.py'

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.3),
    finetune=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_large_22k_224.pth'),
)
