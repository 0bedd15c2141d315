# CPU demo: pretrain a small ConvNeXt on the synthetic shapes and textures (13 classes: 8 shape kinds and the
# segmentation demo's 5 textures; 2600 training images of 64x64) with the full
# ImageNet recipe (RandAugment, random erasing, Mixup/CutMix, label smoothing, drop path, AdamW with
# no decay on 1-D params, warm-up + cosine, EMA), shortened to a few minutes:
#   python tools/make_demo_data.py cls --out data/synthetic_cls
#   python tools/train.py configs/classification/demo/convnext_demo.py
# Then detection/segmentation configs start from work_dirs/convnext_demo/epoch_N.pth (docs/classification.md).
_base_ = ['../convnext_t_in1k.py']

data_root = 'data/synthetic_cls'
# Layer scale starts at 1.0, as in the detection and segmentation configs (the authors' downstream configs),
# not at the release's 1e-6: over 300 ImageNet epochs the scales grow, but in this ~1000-iteration run they
# stay near 0.02, so the checkpoint's blocks would hand the detectors and segmentors residual branches
# switched almost off, where their random start has them at full strength (docs/demo_chain.md measures it:
# -9.4 mIoU from such a checkpoint, -0.8 with layer scale 1.0).
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depths=[1, 1, 3, 1], dims=[32, 64, 128, 256]),
        drop_path_rate=0.1,
        layer_scale_init_value=1.0,
    ),
    num_classes=13,
)

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    pin_memory=False,
    dataset=dict(data_root=data_root, transform=dict(input_size=64, scale=(0.35, 1.0))),
)
val_dataloader = dict(
    batch_size=100, num_workers=1, pin_memory=False, dataset=dict(data_root=data_root, transform=dict(input_size=64))
)
test_dataloader = val_dataloader

# Batch 64 instead of 4096: a fixed lr for the small model, no linear scaling.
optim_wrapper = dict(optimizer=dict(lr=2e-3))
auto_scale_lr = dict(enable=False)
max_epochs = 24
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        eta_min=1e-6,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=4)

# ~1000 iterations in all (40 x 24): decay 0.9999 would leave the EMA at the initial weights, so 0.99 here.
custom_hooks = [
    dict(type='UnswappedEMAHook', momentum=1e-2, priority='ABOVE_NORMAL'),
    dict(type='NonFiniteLossHook'),
    dict(type='RandomStateHook'),
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=8, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False)
