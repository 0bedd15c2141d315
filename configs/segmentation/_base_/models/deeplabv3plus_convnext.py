# DeepLabV3+ with a ConvNeXt-T backbone: mmseg's DeepLabV3+ (R-50-D8) model base with the backbone swapped, for
# ADE20K (150 classes). ConvNeXt is not dilated, so the ASPP sees stride 32 where mmseg's dilated ResNet gives it
# stride 8: its rates are mmseg's (1, 12, 24, 36) scaled by 8/32, as the DeepLab papers scale them with the output
# stride (6, 12, 18 at 16; 12, 24, 36 at 8). The decoder's low-level features come from stage 0 (stride 4), as from
# the ResNet's; the FCN auxiliary head reads stage 2 (loss weight 0.4), as in mmseg's base and the UperNet recipe.
# All in_channels are computed from the arch (stage_channels), never typed. docs/recipes.md, "Other heads".
_base_ = 'mmseg::_base_/models/deeplabv3plus_r50-d8.py'
from convnext_dense.models.arch import stage_channels  # noqa: E402  (a function: not kept in the parsed config)

arch = 'tiny'
widths = stage_channels(arch)
model = dict(
    data_preprocessor=dict(size=(512, 512)),  # the crop size: batches are padded to it
    pretrained=None,
    backbone=dict(
        _delete_=True,  # replaces mmseg's ResNetV1c
        type='ConvNeXt',
        arch=arch,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        init_cfg=dict(type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'),
    ),
    decode_head=dict(in_channels=widths[3], c1_in_channels=widths[0], dilations=(1, 3, 6, 9), num_classes=150),
    auxiliary_head=dict(in_channels=widths[2], num_classes=150),
)
