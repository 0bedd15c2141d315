# The release's ImageNet-1K schedule: AdamW lr 4e-3 at total batch 4096 (linearly scaled to the real
# batch by auto_scale_lr), betas (0.9, 0.999), wd 0.05 with no decay on 1-D parameters (norms, biases,
# layer-scale gammas, GRN), no gradient clipping, fp32 (the release trains without AMP by default;
# tools/train.py --amp switches it on). 20 linear warm-up epochs (mmengine's LinearLR cannot start at
# 0: it starts at 1e-3 x lr), then cosine to 1e-6 at epoch 300, both updated every iteration.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
)

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', T_max=280, eta_min=1e-6, by_epoch=True, begin=20, end=300, convert_to_iter_based=True
    ),
]

train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# lr = 4e-3 x (GPUs x batch per GPU) / 4096. mmengine does not count optim_wrapper.accumulative_counts:
# with gradient accumulation over k steps set base_batch_size=4096 // k.
auto_scale_lr = dict(enable=True, base_batch_size=4096)
