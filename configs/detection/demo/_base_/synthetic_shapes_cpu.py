# Data, schedule and runtime of the CPU demos: the real configs' dataset, schedule and runtime bases
# with the synthetic shapes (python tools/make_demo_data.py coco --out data/synthetic_coco) and a
# schedule that fits a few minutes on 2 CPU cores. What differs from the recipe, and why:
# * 128 px images: multi-scale short side 112..160 (the recipe's 480..800 / 5), flip; the crop branch
#   is left out (it costs accuracy the short schedule cannot win back on 128 px images);
# * iteration-based schedule, batch 4, higher lr (random init, no pretrained layers to preserve);
# * fp32 OptimWrapper (AMP needs a GPU); data loading in the main process (2 cores in all).
_base_ = [
    '../../_base_/datasets/coco_instance_ms_crop.py',
    '../../_base_/schedules/adamw_3x.py',
    '../../_base_/default_runtime.py',
]

data_root = 'data/synthetic_coco/'
metainfo = dict(classes=('circle', 'square', 'triangle', 'star', 'hexagon'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomChoiceResize', scales=[(1333, short) for short in range(112, 161, 16)], keep_ratio=True),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1333, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(1333, short), keep_ratio=True) for short in (112, 128, 160)],
            [dict(type='RandomFlip', prob=1.0), dict(type='RandomFlip', prob=0.0)],
            [dict(type='LoadAnnotations', with_bbox=True, with_mask=True)],
            [
                dict(
                    type='PackDetInputs',
                    meta_keys=(
                        'img_id',
                        'img_path',
                        'ori_shape',
                        'img_shape',
                        'scale_factor',
                        'flip',
                        'flip_direction',
                    ),
                )
            ],
        ],
    ),
]

max_iters = 700
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[550, 650], gamma=0.1),
]
# Layer-wise decay with rate 1.0 is no decay (nothing pretrained); 1-D parameters still get no weight decay.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=1e-3), paramwise_cfg=dict(decay_rate=1.0))
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(by_epoch=False, interval=max_iters), visualization=dict(draw=False)
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
