# Mask2Former (semantic) ConvNeXt-B, ImageNet-22K pre-trained and 1K fine-tuned at 384, 640x640 crops, 160k
# iterations on ADE20K: the setting of the Mask2Former pull request that added ConvNeXt (#34: ConvNeXt-B from
# convnext_base_22k_1k_384, maskformer2_convnext_base_384_160k_res640), with mmseg's 640 Mask2Former data (its
# Swin-B 640 config): short side resized to 320..1280, 640 crops, test scale 2560x640.
_base_ = './mask2former_convnext_t_512_160k_ade20k.py'
from convnext_dense.models.arch import stage_channels  # noqa: E402

arch = 'base'
crop_size = (640, 640)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch=arch, init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_base_22k_1k_384.pth')
    ),
    decode_head=dict(in_channels=stage_channels(arch, _base_.model.backbone.out_indices)),
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(
        type='RandomChoiceResize',
        scales=[int(x * 0.1 * 640) for x in range(5, 21)],
        resize_type='ResizeShortestEdge',
        max_size=2560,
    ),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, 640), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
