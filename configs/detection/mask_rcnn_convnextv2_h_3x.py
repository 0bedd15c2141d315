# Mask R-CNN, ConvNeXt V2-H (FCMAE -> ImageNet-1K, EMA release), 3x, fp32. As mask_rcnn_convnextv2_l_3x.py,
# with the drop path of the released V1 Cascade ConvNeXt-XL recipe (0.8), the largest V1 model.
_base_ = './mask_rcnn_convnextv2_l_3x.py'

model = dict(
    backbone=dict(
        arch='v2-huge',
        drop_path_rate=0.8,
        init_cfg=dict(
            checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/im1k/convnextv2_huge_1k_224_ema.pt'
        ),
    ),
    neck=dict(in_channels=[352, 704, 1408, 2816]),
)
