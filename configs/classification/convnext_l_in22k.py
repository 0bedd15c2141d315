# ConvNeXt-L pre-training on ImageNet-22K: the B recipe, drop path 0.1 (TRAINING.md).
_base_ = './convnext_b_in22k.py'

model = dict(backbone=dict(arch='large', drop_path_rate=0.1))
