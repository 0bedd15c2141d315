# Mask R-CNN, ConvNeXt-T (ImageNet-1K), 1x (12 epochs, steps 8/11), same data and optimizer as the 3x
# config: no 1x recipe is released (docs/recipes.md), so lr, layer decay and drop path are the 3x Mask R-CNN T values.
_base_ = './mask_rcnn_convnext_t_3x.py'

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
