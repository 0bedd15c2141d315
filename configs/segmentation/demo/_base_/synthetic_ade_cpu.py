# Data, schedule and runtime of the CPU segmentation demos: the real configs' ADE20K, 160k-schedule and runtime bases
# with the synthetic ADE20K-format texture dataset (python tools/make_demo_data.py ade --out data/synthetic_ade),
# 128 px crops and a schedule that fits a few minutes on 2 CPU cores. What differs from the recipe, and why:
# * 128x128 crops of images resized to 512x128 (x0.75..1.5), test at 512x128, slide windows of 128 with stride 85;
# * fp32 (AMP needs a GPU) and a from-scratch lr (2e-3: nothing pretrained), 1500 iterations, 100 warm-up;
# * stage-wise decay over 6 layers, as for T. Everything else (warm-up + poly, IoUMetric, TTA) is the recipe's.
_base_ = [
    '../../_base_/datasets/ade20k.py',
    '../../_base_/schedules/schedule_160k.py',
    '../../_base_/default_runtime.py',
]
dataset_type = 'SyntheticADE20KDataset'
data_root = 'data/synthetic_ade'
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
