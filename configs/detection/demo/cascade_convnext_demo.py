# Cascade Mask R-CNN with a small ConvNeXt (1/1/3/1 blocks, widths 32..256, random init) on the
# synthetic shapes, for 2 CPU cores: the model base of cascade_convnext_t_3x.py with the widths cut
# (neck and heads 64 channels, fc 256), fewer sampled RoIs and proposals, and 16 px smallest anchors
# (objects are 13..77 px); data and schedule in _base_/synthetic_shapes_cpu.py.
#   python tools/make_demo_data.py coco --out data/synthetic_coco
#   python tools/train.py configs/detection/demo/cascade_convnext_demo.py
_base_ = ['../_base_/models/cascade_mask_rcnn_convnext_fpn.py', './_base_/synthetic_shapes_cpu.py']

num_classes = 5
width = 64
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depths=[1, 1, 3, 1], dims=[32, 64, 128, 256]), drop_path_rate=0.0, init_cfg=None
    ),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=width),
    rpn_head=dict(in_channels=width, feat_channels=width, anchor_generator=dict(scales=[4, 6])),
    roi_head=dict(
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2), out_channels=width),
        bbox_head=[
            dict(
                type='ConvFCBBoxHead',
                num_shared_convs=4,
                num_shared_fcs=1,
                in_channels=width,
                conv_out_channels=width,
                fc_out_channels=256,
                roi_feat_size=7,
                num_classes=num_classes,
                bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0], target_stds=stds),
                reg_class_agnostic=False,
                reg_decoded_bbox=True,
                norm_cfg=dict(type='SyncBN', requires_grad=True),
                loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type='GIoULoss', loss_weight=10.0),
            )
            for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067])
        ],
        mask_roi_extractor=dict(roi_layer=dict(sampling_ratio=2), out_channels=width),
        mask_head=dict(in_channels=width, conv_out_channels=width, num_classes=num_classes),
    ),
    train_cfg=dict(
        rpn=dict(assigner=dict(pos_iou_thr=0.6), sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=[
            dict(
                assigner=dict(
                    type='MaxIoUAssigner',
                    pos_iou_thr=iou,
                    neg_iou_thr=iou,
                    min_pos_iou=iou,
                    match_low_quality=False,
                    ignore_iof_thr=-1,
                ),
                sampler=dict(type='RandomSampler', num=64, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True),
                mask_size=28,
                pos_weight=-1,
                debug=False,
            )
            for iou in (0.5, 0.6, 0.7)
        ],
    ),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100)),
)
