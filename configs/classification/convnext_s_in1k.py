# ConvNeXt-S on ImageNet-1K, the ConvNeXt-T recipe with drop path 0.4. Paper: 83.1 top-1.
_base_ = './convnext_t_in1k.py'

model = dict(backbone=dict(arch='small', drop_path_rate=0.4))
