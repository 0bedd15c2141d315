# COCO 2017 instance segmentation (boxes + masks) with the training augmentation of the ConvNeXt and
# Swin 3x detection recipes (from DETR / Sparse R-CNN): flip, then either multi-scale resize (short
# side 480..800 step 32, long side <= 1333) or resize (400/500/600) -> absolute-range crop 384..600
# -> multi-scale resize. Test: single scale 1333x800; `tools/test.py --tta` uses tta_pipeline.
#
# Layout under data_root (the standard one):  annotations/instances_{train,val}2017.json,
# train2017/, val2017/. To read another root:  --cfg-options data_root=/path/to/coco/
# mmdet's CocoDataset plus early, explicit errors for broken files (convnext_dense/datasets/coco.py).
dataset_type = 'CheckedCocoDataset'
data_root = 'data/coco/'
backend_args = None  # local files; the classes are the 80 of COCO (CocoDataset.METAINFO)

train_scales = [(short, 1333) for short in range(480, 801, 32)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True)],
            [
                dict(type='RandomChoiceResize', scales=[(400, 1333), (500, 1333), (600, 1333)], keep_ratio=True),
                dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600), allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
            ],
        ],
    ),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]

train_dataloader = dict(
    batch_size=2,  # per GPU; the recipes use 8 GPUs x 2 images
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args,
    ),
)
test_dataloader = val_dataloader

# COCO box and mask AP with a per-category table; the detections are kept as COCO results JSON
# (<outfile_prefix>.bbox.json / .segm.json). '{log_dir}' is the run's log folder
# (work_dirs/<config>/<timestamp>), filled in by CocoOutfileHook (see default_runtime.py).
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric=['bbox', 'segm'],
    classwise=True,
    format_only=False,
    outfile_prefix='{log_dir}/coco_val',
    backend_args=backend_args,
)
test_evaluator = dict(val_evaluator, outfile_prefix='{log_dir}/coco_test')

# Test-time augmentation for `tools/test.py --tta`: three scales x flip, boxes merged by NMS (as in
# mmdet's */*_tta.py); masks are taken from the view whose box survives (DetTTAModel alone cannot merge
# masks), see convnext_dense.models.test_time_augs.InstanceTTAModel.
tta_model = dict(type='InstanceTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=scale, keep_ratio=True) for scale in [(1333, 800), (666, 400), (2000, 1200)]],
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
