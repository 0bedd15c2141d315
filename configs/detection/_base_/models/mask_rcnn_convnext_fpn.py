# Mask R-CNN with a ConvNeXt-T backbone and FPN; heads, assigners and test settings are mmdet's
# own Mask R-CNN base (as in the authors' config).
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ConvNeXt',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        init_cfg=dict(type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'),
    ),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
