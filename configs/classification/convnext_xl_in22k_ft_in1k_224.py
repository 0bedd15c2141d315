# ConvNeXt-XL: 22K -> 1K fine-tuning at 224 (paper: 87.0 top-1): the B recipe with drop path 0.4, batch
# 512 as 32 GPUs x 16, and EMA 0.9999 evaluated during training (--model_ema true --model_ema_eval true;
# the released XL fine-tuned files are the EMA weights). TRAINING.md.
_base_ = './convnext_b_in22k_ft_in1k_224.py'

model = dict(
    backbone=dict(arch='xlarge', drop_path_rate=0.4),
    finetune=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_xlarge_22k_224.pth'),
)
train_dataloader = dict(batch_size=16)
val_dataloader = dict(batch_size=24)
test_dataloader = dict(batch_size=24)
custom_hooks = [
    dict(type='UnswappedEMAHook', momentum=1e-4, priority='ABOVE_NORMAL'),
    dict(type='NonFiniteLossHook'),
    dict(type='RandomStateHook'),
]
