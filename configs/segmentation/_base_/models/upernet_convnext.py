# mmseg's UperNet (ResNet-50) with the backbone swapped for ConvNeXt-T, as released for ADE20K (docs/recipes.md, "Segmentation";
# facebookresearch/ConvNeXt semantic_segmentation and mmseg's configs/convnext): layer scale 1.0,
# UPerHead with 512 channels and pool scales (1, 2, 3, 6), an FCN auxiliary head on stage 3
# (index 2) with loss weight 0.4, SyncBN in the heads, slide inference. Sizes change the
# backbone's arch and the heads' in_channels; 640 crops change the sizes below.
_base_ = 'mmseg::_base_/models/upernet_r50.py'

data_preprocessor = dict(size=(512, 512))  # the crop size: batches are padded to it
model = dict(
    data_preprocessor=dict(size=(512, 512)),
    pretrained=None,
    backbone=dict(
        _delete_=True,  # replaces mmseg's ResNet
        type='ConvNeXt',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        # the authors' ImageNet-1K non-EMA weights, downloaded once to torch hub's cache (docs/pretrained_weights.md)
        init_cfg=dict(type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'),
    ),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)),
)
