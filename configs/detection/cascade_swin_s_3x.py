# Cascade Mask R-CNN, Swin-S (ImageNet-1K): as cascade_swin_t_3x.py with 18 blocks in stage 3
# (drop path 0.2 as in mmdet's swin-s config).
_base_ = './cascade_swin_t_3x.py'

model = dict(
    backbone=dict(
        depths=[2, 2, 18, 2],
        init_cfg=dict(
            checkpoint='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_small_patch4_window7_224.pth'
        ),
    )
)
