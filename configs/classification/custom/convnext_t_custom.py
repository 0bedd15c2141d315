# Your own image classes, one folder per class: ConvNeXt-T fine-tuned from the ImageNet-1K weights with the
# release's fine-tuning recipe (as ../convnext_b_in22k_ft_in1k_224.py: AdamW, layer-wise lr decay 0.8, cosine, no
# Mixup/CutMix, no EMA). Copy this file next to itself, set data_root and classes; the head's class count follows.
#   <data_root>/train/<class>/*.jpg   <data_root>/val/<class>/*.jpg   (the folder names are the class names)
# Walk-through: docs/custom_data.md.
_base_ = '../convnext_t_in1k.py'

data_root = 'data/my_cls'
classes = ('cat', 'dog')

model = dict(
    num_classes=len(classes),
    head_init_scale=0.001,
    finetune=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'),
)
data_preprocessor = dict(mixup=None)
train_dataloader = dict(batch_size=32, dataset=dict(data_root=data_root, classes=classes))
val_dataloader = dict(batch_size=48, dataset=dict(data_root=data_root, classes=classes))
test_dataloader = val_dataloader
val_evaluator = dict(topk=(1, min(5, len(classes))))
test_evaluator = val_evaluator
optim_wrapper = dict(
    optimizer=dict(lr=5e-5, weight_decay=1e-8),
    constructor='ClsLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, decay_rate=0.8, decay_type='layer_wise', num_layers=12),
)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=30, eta_min=1e-6, by_epoch=True, begin=0, end=30, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=30)
auto_scale_lr = dict(base_batch_size=512)
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RandomStateHook')]
