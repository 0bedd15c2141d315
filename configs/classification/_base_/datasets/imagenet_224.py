# ImageNet-1K in folder layout (data/imagenet/{train,val}/<wnid>/*.JPEG), the release's augmentation:
# timm create_transform with RandAugment rand-m9-mstd0.5-inc1, bicubic, flips (train); resize 256 ->
# centre crop 224 (crop_pct 0.875, eval). Normalisation, random erasing 0.25 ('pixel') and Mixup 0.8 /
# CutMix 1.0 (switch prob 0.5, label smoothing 0.1) run batched in the data preprocessor.
# Batch 128 per GPU: 32 GPUs give the release's 4096 (auto_scale_lr in the schedule scales the lr).
data_root = 'data/imagenet'

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    random_erasing=dict(probability=0.25, mode='pixel', max_count=1),
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch', label_smoothing=0.1),
)

train_dataloader = dict(
    batch_size=128,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,  # Mixup needs even, full batches
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ImageFolderDataset',
        data_root=data_root,
        split='train',
        transform=dict(
            input_size=224,
            is_training=True,
            auto_augment='rand-m9-mstd0.5-inc1',
            interpolation='bicubic',
            color_jitter=0.4,
            hflip=0.5,
        ),
    ),
)

val_dataloader = dict(
    batch_size=192,  # 1.5x the training batch, as released
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ImageFolderDataset',
        data_root=data_root,
        split='val',
        transform=dict(input_size=224, interpolation='bicubic', crop_pct=0.875),
    ),
)
val_evaluator = dict(type='TopKAccuracy', topk=(1, 5))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
