# ConvNeXt-L: 22K -> 1K fine-tuning at 384 (paper: 87.5 top-1): the B 384 recipe, drop path 0.3 (TRAINING.md).
_base_ = './convnext_b_in22k_ft_in1k_384.py'

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.3),
    finetune=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_large_22k_224.pth'),
)
