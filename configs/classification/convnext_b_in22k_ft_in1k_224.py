# ConvNeXt-B: ImageNet-22K pre-trained -> ImageNet-1K fine-tuned at 224 (paper: 85.8 top-1), as released
# (facebookresearch/ConvNeXt TRAINING.md, "Fine-tune from ImageNet-22K pre-training"): from the released
# 22K checkpoint (its 21841-class head is dropped), AdamW lr 5e-5 at batch 512 (16 GPUs x 32), wd 1e-8,
# layer-wise lr decay 0.8 over 12 layers, head init scale 0.001, drop path 0.2, 30 epochs of cosine with
# no warm-up, no Mixup/CutMix (--mixup 0 --cutmix 0: label smoothing 0.1 on hard labels, random erasing
# 0.25 and RandAugment stay), no EMA.
_base_ = './convnext_t_in1k.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.2),
    head_init_scale=0.001,
    finetune=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_base_22k_224.pth'),
)
data_preprocessor = dict(mixup=None)
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=48)
test_dataloader = dict(batch_size=48)

optim_wrapper = dict(
    optimizer=dict(lr=5e-5, weight_decay=1e-8),
    constructor='ClsLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, decay_rate=0.8, decay_type='layer_wise', num_layers=12),
)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=30, eta_min=1e-6, by_epoch=True, begin=0, end=30, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=30)
auto_scale_lr = dict(base_batch_size=512)
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RandomStateHook')]  # no EMA
