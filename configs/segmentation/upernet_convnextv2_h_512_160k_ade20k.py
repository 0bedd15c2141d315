# UperNet ConvNeXt V2-H, FCMAE -> ImageNet-1K init (EMA release), 512x512, 160k, fp32.
# Otherwise upernet_convnextv2_b_512_160k_ade20k.py.
_base_ = ['./upernet_convnextv2_l_512_160k_ade20k.py']
model = dict(
    backbone=dict(
        arch='v2-huge',
        init_cfg=dict(
            checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/im1k/convnextv2_huge_1k_224_ema.pt'
        ),
    ),
    decode_head=dict(in_channels=[352, 704, 1408, 2816]),
    auxiliary_head=dict(in_channels=1408),
)
