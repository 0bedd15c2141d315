# RetinaNet with a ConvNeXt-T backbone: mmdet's RetinaNet (R-50, FPN) model base with the backbone swapped. As in
# mmdet's Swin-T RetinaNet (configs/swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py), the FPN takes stages 1-3 (strides
# 8, 16, 32) from its first level and adds P6 and P7 on them: the five levels RetinaNet's anchors are made for.
# The FPN's in_channels are computed from the arch (stage_channels), never typed.
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'
from convnext_dense.models.arch import stage_channels  # noqa: E402  (a function: not kept in the parsed config)

arch = 'tiny'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ConvNeXt',
        arch=arch,
        out_indices=(1, 2, 3),
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        init_cfg=dict(type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'),
    ),
    neck=dict(in_channels=stage_channels(arch, (1, 2, 3)), start_level=0, num_outs=5),
)
