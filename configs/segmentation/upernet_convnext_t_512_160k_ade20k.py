# UperNet ConvNeXt-T, ImageNet-1K init, 512x512 crops, 160k iterations on ADE20K, 8 GPUs x 2 images.
# Paper: 46.0 mIoU single-scale, 46.7 multi-scale + flip (tools/test.py --tta).
_base_ = [
    './_base_/models/upernet_convnext.py',
    './_base_/datasets/ade20k.py',
    './_base_/schedules/schedule_160k.py',
    './_base_/default_runtime.py',
]
# drop path 0.4, lr 1e-4 and AMP come from the bases; T uses num_layers 6 for the stage-wise decay.
optim_wrapper = dict(paramwise_cfg=dict(num_layers=6))
