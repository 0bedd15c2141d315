# ConvNeXt-XL: 22K -> 1K fine-tuning at 384 (paper: 87.8 top-1): the B 384 recipe with drop path 0.4,
# batch 512 as 64 GPUs x 8, EMA 0.9999 evaluated during training (TRAINING.md).
_base_ = './convnext_b_in22k_ft_in1k_384.py'

model = dict(
    backbone=dict(arch='xlarge', drop_path_rate=0.4),
    finetune=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_xlarge_22k_224.pth'),
)
train_dataloader = dict(batch_size=8)
val_dataloader = dict(batch_size=12)
test_dataloader = dict(batch_size=12)
custom_hooks = [
    dict(type='UnswappedEMAHook', momentum=1e-4, priority='ABOVE_NORMAL'),
    dict(type='NonFiniteLossHook'),
    dict(type='RandomStateHook'),
]
