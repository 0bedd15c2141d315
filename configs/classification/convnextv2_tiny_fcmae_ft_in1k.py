# ConvNeXt V2-T: supervised ImageNet-1K fine-tuning of the FCMAE pre-trained encoder (paper / README:
# 83.0 top-1), as released (facebookresearch/ConvNeXt-V2 TRAINING.md, "ConvNeXt-T"): --blr 8e-4 at
# batch 1024 (32 GPUs x 32; lr = blr x 1024 / 256 = 3.2e-3), 300 epochs with 40 warm-up, layer-wise lr
# decay 0.9 per block ('single'), wd 0.05, drop path 0.2, random erasing 0.25, Mixup 0.8 / CutMix 1.0,
# label smoothing 0.1, EMA 0.9999 evaluated during training, AMP; head init scale 0.001 (main_finetune.py
# re-initialises the head with std 2e-5 = 0.02 x 0.001).
# Starting point: the released FCMAE pre-training file, read as the V2 repository's main_finetune.py reads
# it: the sparse encoder (encoder.*, MinkowskiEngine kernels) is converted to the dense backbone on load,
# the decoder is dropped, the final norm and the head start fresh (docs/classification.md). FCMAE
# pre-training itself is not part of this project.
_base_ = './convnext_t_in1k.py'

model = dict(
    backbone=dict(arch='v2-tiny', drop_path_rate=0.2, layer_scale_init_value=0.0),
    head_init_scale=0.001,
    finetune=dict(
        checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_tiny_1k_224_fcmae.pt',
        keep_head=False,
    ),
)
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = dict(batch_size=32)

optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(lr=3.2e-3, weight_decay=0.05),
    constructor='ClsLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, decay_rate=0.9, decay_type='single'),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=40, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', T_max=260, eta_min=1e-6, by_epoch=True, begin=40, end=300, convert_to_iter_based=True
    ),
]
train_cfg = dict(max_epochs=300)
auto_scale_lr = dict(base_batch_size=1024)
