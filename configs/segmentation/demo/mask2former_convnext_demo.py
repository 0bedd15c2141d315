# Mask2Former (semantic) with the small ConvNeXt of upernet_convnext_demo.py (2-2-6-2 blocks, widths 32..256, from
# scratch) on the synthetic ADE20K-format textures, for 2 CPU cores: the model base of
# mask2former_convnext_t_512_160k_ade20k.py narrowed (2 pixel-decoder layers, 3 decoder layers, 20 queries, 128 x 128
# crops, 1024 sampled points for the mask losses), with the UperNet demo's data and schedule
# (_base_/synthetic_ade_cpu.py: the Mask2Former base is a whole mmseg config, so they are set here again) and the
# backbone at the heads' lr (nothing pretrained).
#     python tools/make_demo_data.py ade --out data/synthetic_ade
#     python tools/train.py configs/segmentation/demo/mask2former_convnext_demo.py
_base_ = '../_base_/models/mask2former_convnext.py'
from convnext_dense.models.arch import stage_channels  # noqa: E402

arch = dict(_delete_=True, depths=[2, 2, 6, 2], dims=[32, 64, 128, 256])
num_classes = 5
crop_size = (128, 128)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch=arch, drop_path_rate=0.1, init_cfg=None),
    decode_head=dict(
        in_channels=stage_channels(arch),
        num_classes=num_classes,
        num_queries=20,
        pixel_decoder=dict(encoder=dict(num_layers=2)),
        transformer_decoder=dict(num_layers=3),
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1]),
        train_cfg=dict(num_points=1024),
    ),
)

dataset_type = 'SyntheticADE20KDataset'
data_root = 'data/synthetic_ade'
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
train_dataloader = dict(
    batch_size=8, num_workers=2, dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline)
)
val_dataloader = dict(
    batch_size=1, num_workers=2, dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline)
)
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=2e-4), paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=1.0))))
max_iters = 1500
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_iters, save_best=None))
randomness = dict(seed=0)
