# ConvNeXt-B pre-training on ImageNet-22K (21841 classes), 90 epochs, batch 4096 (128 GPUs x 32), as
# released (facebookresearch/ConvNeXt TRAINING.md, "ImageNet-22K Pre-training"): the ImageNet-1K recipe
# (AdamW lr 4e-3, wd 0.05, RandAugment, Mixup/CutMix, label smoothing, random erasing) with drop path
# 0.1, 5 warm-up epochs, no EMA (the command has no --model_ema) and no evaluation (--disable_eval).
#   bash tools/dist_train.sh configs/classification/convnext_b_in22k.py 8   # lr scaled to 8x32/4096
# Data: data/imagenet21k/train/<wnid>/*.JPEG listed in data/imagenet21k/meta/train.txt ("<wnid>/<file> <label>").
_base_ = './convnext_t_in1k.py'

model = dict(backbone=dict(arch='base', drop_path_rate=0.1), num_classes=21841)
train_dataloader = dict(
    batch_size=32, dataset=dict(data_root='data/imagenet21k', split='train', ann_file='meta/train.txt')
)
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=85, eta_min=1e-6, by_epoch=True, begin=5, end=90, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=90)
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RandomStateHook')]  # no EMA
default_hooks = dict(checkpoint=dict(save_best=None))
