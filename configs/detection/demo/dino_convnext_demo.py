# DINO with the small ConvNeXt of cascade_convnext_demo.py (1-1-3-1 blocks, widths 32..256, random init) on the
# synthetic shapes, for 2 CPU cores: the model base of dino_convnext_t_in22k_12e.py narrowed (2 encoder and 2 decoder
# layers, 100 queries, 20 denoising queries) with the data and schedule of _base_/synthetic_shapes_cpu.py, boxes
# only (the DINO base is a whole mmdet config, so they are set here again), and the backbone at the heads' lr
# (nothing pretrained).
#   python tools/make_demo_data.py coco --out data/synthetic_coco
#   python tools/train.py configs/detection/demo/dino_convnext_demo.py
_base_ = '../_base_/models/dino_4scale_convnext.py'
from convnext_dense.models.arch import stage_channels  # noqa: E402

arch = dict(_delete_=True, depths=[1, 1, 3, 1], dims=[32, 64, 128, 256])
model = dict(
    num_queries=100,
    backbone=dict(arch=arch, init_cfg=None),
    neck=dict(in_channels=stage_channels(arch, _base_.model.backbone.out_indices)),
    encoder=dict(num_layers=2),
    decoder=dict(num_layers=2),
    bbox_head=dict(num_classes=5),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=20)),
    test_cfg=dict(max_per_img=100),
)

data_root = 'data/synthetic_coco/'
metainfo = dict(classes=('circle', 'square', 'triangle', 'star', 'hexagon'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomChoiceResize', scales=[(1333, short) for short in range(112, 161, 16)], keep_ratio=True),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1333, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
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

max_iters = 700
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[600], gamma=0.1)]
optim_wrapper = dict(optimizer=dict(lr=2e-4), paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=1.0))))
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(by_epoch=False, interval=max_iters), visualization=dict(draw=False)
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
