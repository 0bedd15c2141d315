# Mask R-CNN with the small ConvNeXt of cascade_convnext_demo.py on the synthetic shapes, for 2 CPU cores:
# the model base of mask_rcnn_convnext_t_3x.py with 64-channel neck and heads, fewer RoIs and proposals, and
# 16 px smallest anchors; data and schedule in _base_/synthetic_shapes_cpu.py.
_base_ = ['../_base_/models/mask_rcnn_convnext_fpn.py', './_base_/synthetic_shapes_cpu.py']

num_classes = 5
width = 64
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depths=[1, 1, 3, 1], dims=[32, 64, 128, 256]), drop_path_rate=0.0, init_cfg=None
    ),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=width),
    rpn_head=dict(in_channels=width, feat_channels=width, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2), out_channels=width),
        bbox_head=dict(in_channels=width, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(roi_layer=dict(sampling_ratio=2), out_channels=width),
        mask_head=dict(in_channels=width, conv_out_channels=width, num_classes=num_classes),
    ),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64)),
    ),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100)),
)
