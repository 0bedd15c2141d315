# Mask R-CNN, ConvNeXt V2-L (FCMAE -> ImageNet-1K, EMA release), 3x, fp32. As mask_rcnn_convnextv2_b_3x.py,
# with the released V1 Cascade ConvNeXt-L recipe: drop path 0.7, lr 1e-4, layer decay 0.7 over 12, no AMP.
_base_ = './mask_rcnn_convnextv2_b_3x.py'

model = dict(
    backbone=dict(
        arch='v2-large',
        drop_path_rate=0.7,
        init_cfg=dict(
            checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/im1k/convnextv2_large_1k_224_ema.pt'
        ),
    ),
    neck=dict(in_channels=[192, 384, 768, 1536]),
)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=1e-4), paramwise_cfg=dict(decay_rate=0.7))
