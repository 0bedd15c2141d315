# RetinaNet with the small ConvNeXt of cascade_convnext_demo.py (1-1-3-1 blocks, widths 32..256, random init) on the
# synthetic shapes, for 2 CPU cores: the model base of retinanet_convnext_t_1x.py with a 64-channel FPN and head and
# 16 px smallest anchors (objects are 13..77 px); data and schedule in _base_/synthetic_shapes_cpu.py, scored on
# boxes only (RetinaNet predicts no masks).
#   python tools/make_demo_data.py coco --out data/synthetic_coco
#   python tools/train.py configs/detection/demo/retinanet_convnext_demo.py
_base_ = ['../_base_/models/retinanet_convnext_fpn.py', './_base_/synthetic_shapes_cpu.py']
from convnext_dense.models.arch import stage_channels  # noqa: E402

arch = dict(_delete_=True, depths=[1, 1, 3, 1], dims=[32, 64, 128, 256])
width = 64
model = dict(
    backbone=dict(arch=arch, drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=stage_channels(arch, _base_.model.backbone.out_indices), out_channels=width),
    bbox_head=dict(num_classes=5, in_channels=width, feat_channels=width, anchor_generator=dict(octave_base_scale=2)),
    test_cfg=dict(nms_pre=300),
)
val_evaluator = dict(metric='bbox')
test_evaluator = dict(metric='bbox')
