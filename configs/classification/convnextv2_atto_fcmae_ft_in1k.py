# ConvNeXt V2-A: supervised ImageNet-1K fine-tuning of the FCMAE encoder (README: 76.7 top-1), as released
# (ConvNeXt-V2 TRAINING.md, "ConvNeXt-A"): --blr 2e-4 at batch 1024 (lr 8e-4), 600 epochs, no warm-up,
# layer-wise lr decay 0.9 per block ('single'), wd 0.3, drop path 0.1, random erasing 0.25, no Mixup/CutMix,
# label smoothing 0.2, EMA, AMP. Starting point as in convnextv2_tiny_fcmae_ft_in1k.py.
_base_ = './convnextv2_tiny_fcmae_ft_in1k.py'

model = dict(
    backbone=dict(arch='v2-atto', drop_path_rate=0.1),
    label_smoothing=0.2,
    finetune=dict(
        checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_atto_1k_224_fcmae.pt'
    ),
)
data_preprocessor = dict(mixup=None)
optim_wrapper = dict(optimizer=dict(lr=8e-4, weight_decay=0.3))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=600, eta_min=1e-6, by_epoch=True, begin=0, end=600, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=600)
