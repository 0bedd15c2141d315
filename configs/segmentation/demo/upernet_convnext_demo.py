# A CPU demo of the segmentation stack: a small ConvNeXt (custom arch, trained from scratch) with
# the UperNet heads of the real configs, narrowed, on the synthetic ADE20K-format texture dataset
#     python tools/make_demo_data.py ade --out data/synthetic_ade
#     python tools/train.py configs/segmentation/demo/upernet_convnext_demo.py --seed 0
# Everything not changed here (head layout, aux head on stage 3 with loss 0.4, stage-wise lr decay,
# warm-up + poly schedule, slide inference, IoUMetric, TTA) is the ADE20K recipe of the bases.
_base_ = [
    '../_base_/models/upernet_convnext.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_160k.py',
    '../_base_/default_runtime.py',
]
dataset_type = 'SyntheticADE20KDataset'
data_root = 'data/synthetic_ade'
num_classes = 5
crop_size = (128, 128)
img_scale = (512, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(int(img_scale[0] * r), int(img_scale[1] * r)), keep_ratio=True)
                for r in img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            ],
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')],
        ],
    ),
]
train_dataloader = dict(
    batch_size=8, num_workers=2, dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline)
)
val_dataloader = dict(
    batch_size=1,  # test images keep their own sizes: mmseg tests one at a time
    num_workers=2,
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline),
)
test_dataloader = val_dataloader

# ConvNeXt-T's 1:1:3:1 stage ratio at widths 32..256: 2.2M backbone parameters (the Swin demo's: 2.3M).
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch=dict(_delete_=True, depths=[2, 2, 6, 2], dims=[32, 64, 128, 256]), drop_path_rate=0.1, init_cfg=None
    ),  # from scratch: no download, no checkpoint
    decode_head=dict(in_channels=[32, 64, 128, 256], channels=64, num_classes=num_classes),
    auxiliary_head=dict(in_channels=128, channels=32, num_classes=num_classes),
    test_cfg=dict(crop_size=crop_size, stride=(85, 85)),
)

# CPU: fp32; a from-scratch model needs a larger lr than fine-tuning. Stage-wise decay as for T.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=2e-3), paramwise_cfg=dict(num_layers=6))
max_iters = 1500
warmup_iters = 100
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_iters))
randomness = dict(seed=0)
