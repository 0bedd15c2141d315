# ConvNeXt-B on ImageNet-1K, the ConvNeXt-T recipe with drop path 0.5. Paper: 83.8 top-1.
_base_ = './convnext_t_in1k.py'

model = dict(backbone=dict(arch='base', drop_path_rate=0.5))
