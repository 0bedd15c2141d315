# DeepLabV3+ ConvNeXt-T, ImageNet-1K init, 512x512 crops, 160k iterations on ADE20K, 8 GPUs x 2 images.
# No ConvNeXt DeepLabV3+ recipe is released (docs/recipes.md, "Other heads"): mmseg's DeepLabV3+ head
# (_base_/models/deeplabv3plus_convnext.py) with the data, schedule and optimiser of the ConvNeXt-T UperNet recipe
# (upernet_convnext_t_512_160k_ade20k.py: AdamW lr 1e-4, stage-wise decay 0.9 over 6 layers, drop path 0.4, AMP);
# whole-image inference, as mmseg's DeepLabV3+ configs. Built and trained here only at demo scale
# (configs/segmentation/demo/deeplabv3plus_convnext_demo.py).
_base_ = [
    './_base_/models/deeplabv3plus_convnext.py',
    './_base_/datasets/ade20k.py',
    './_base_/schedules/schedule_160k.py',
    './_base_/default_runtime.py',
]
optim_wrapper = dict(paramwise_cfg=dict(num_layers=6))
