# ConvNeXt-L on ImageNet-1K, drop path 0.5, batch 4096 as 64 GPUs x 64 (released). Paper: 84.3 top-1.
_base_ = './convnext_t_in1k.py'

model = dict(backbone=dict(arch='large', drop_path_rate=0.5))
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=96)
test_dataloader = dict(batch_size=96)
