# The roadmap on the synthetic image folder (python tools/make_demo_data.py cls --out data/synthetic_cls): the
# classification demo (configs/classification/demo/convnext_demo.py: AdamW, warm-up + cosine, label smoothing, drop
# path) with a roadmap step in the demo regime (_base_/demo_regime.py) and, as the paper's roadmap recipe does
# (Appendix A.1), EMA off. A short schedule for a loaded 2-core CPU (about a minute a run): one epoch (40
# iterations of 64) at 32x32 (random-resized crops of the 64x64 images), and without RandAugment, Mixup / CutMix and
# random erasing, which so short a run cannot benefit from.
#   python tools/roadmap.py --task cls --steps resnet kernel_7 separate_downsampling --seeds 0 1
#   python tools/train.py configs/roadmap/demo/roadmap_cls_demo.py --seed 0 --cfg-options model.backbone.step=gelu
_base_ = ['../../classification/demo/convnext_demo.py', './_base_/demo_regime.py']

# Layer scale 1.0 at every step, as in the ConvNeXt demo (its comment says why: at the release's 1e-6 a short run
# leaves the residual branches switched almost off, which would penalise the steps from fewer_norms on).
model = dict(
    backbone=dict(
        _delete_=True,
        type='ModernizedResNet',
        step='separate_downsampling',
        regime={{_base_.demo_regime}},
        out_indices=(3,),
        out_norm=False,
        drop_path_rate=0.1,
        layer_scale_init_value=1.0,
    )
)
data_preprocessor = dict(mixup=None, random_erasing=None)
train_dataloader = dict(dataset=dict(transform=dict(input_size=32, auto_augment=None)))
val_dataloader = dict(dataset=dict(transform=dict(input_size=32)))
test_dataloader = val_dataloader
# One epoch of the 2600 images: 40 iterations, 8 of linear warm-up, then cosine.
max_epochs = 1
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=8),
    dict(type='CosineAnnealingLR', T_max=32, eta_min=1e-6, by_epoch=False, begin=8, end=40),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RandomStateHook')]  # no EMA
default_hooks = dict(checkpoint=dict(interval=max_epochs))
