# UperNet Swin-S, ImageNet-1K init, 512x512, 160k iterations: Swin-T's config with Swin-S depths
# (paper's comparison: 47.6 / 49.5 mIoU). Drop path stays 0.3, as in mmseg's Swin-S config.
_base_ = ['./upernet_swin_t_512_160k_ade20k.py']
model = dict(
    backbone=dict(
        depths=[2, 2, 18, 2],
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_small_patch4_window7_224_20220317-7ba6d6dd.pth'
        ),
    )
)
