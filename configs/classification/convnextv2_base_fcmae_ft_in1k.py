# ConvNeXt V2-B: supervised ImageNet-1K fine-tuning of the FCMAE encoder (README: 84.9 top-1), as released
# (ConvNeXt-V2 TRAINING.md, "ImageNet-1K Fine-Tuning"): --blr 6.25e-4 at batch 1024 (lr 2.5e-3), 100
# epochs with 20 warm-up, layer-wise lr decay 0.6 over 12 groups of blocks ('group', the V1 layout),
# wd 0.05, drop path 0.1, Mixup 0.8 / CutMix 1.0, label smoothing 0.1, EMA, AMP. Starting point as in
# convnextv2_tiny_fcmae_ft_in1k.py (the FCMAE pre-training file, converted on load).
_base_ = './convnextv2_tiny_fcmae_ft_in1k.py'

model = dict(
    backbone=dict(arch='v2-base', drop_path_rate=0.1),
    finetune=dict(
        checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_base_1k_224_fcmae.pt'
    ),
)
optim_wrapper = dict(
    optimizer=dict(lr=2.5e-3), paramwise_cfg=dict(decay_rate=0.6, decay_type='layer_wise', num_layers=12)
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', T_max=80, eta_min=1e-6, by_epoch=True, begin=20, end=100, convert_to_iter_based=True
    ),
]
train_cfg = dict(max_epochs=100)
