# The 3x schedule of the ConvNeXt detection recipes: 36 epochs, lr x0.1 after epochs 27 and 33, linear
# warm-up over the first 1000 iterations from 0.001 x lr (mmdet 3.x; the authors used 500), AdamW
# (betas 0.9/0.999, weight decay 0.05) with layer-wise lr decay over the ConvNeXt stages and mixed
# precision. lr and the decay (rate, num_layers) depend on the model: each config sets them.
max_epochs = 36
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33], gamma=0.1),
]

# mmdet's LearningRateDecayOptimizerConstructor: a parameter in group id gets lr x rate ** (num_layers + 1 - id)
# (stem 0, stage 0 -> 1, stage 2 blocks in threes, neck and heads num_layers + 1 -> x1) and 1-D parameters
# (norms, biases, layer-scale gammas) get no weight decay.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.7, decay_type='layer_wise', num_layers=6),
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
)

# The recipes' lrs are for 8 GPUs x 2 images. Scaling stays off so that a config trains with its
# published lr; `--cfg-options auto_scale_lr.enable=True` scales it linearly to another total batch.
auto_scale_lr = dict(enable=False, base_batch_size=16)
