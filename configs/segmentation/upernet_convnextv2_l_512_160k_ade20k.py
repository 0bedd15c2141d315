# UperNet ConvNeXt V2-L, FCMAE -> ImageNet-1K init (EMA release), 512x512, 160k, fp32 (as the released
# V1 L/XL recipes train). Otherwise upernet_convnextv2_b_512_160k_ade20k.py.
_base_ = ['./upernet_convnextv2_b_512_160k_ade20k.py']
model = dict(
    backbone=dict(
        arch='v2-large',
        init_cfg=dict(
            checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/im1k/convnextv2_large_1k_224_ema.pt'
        ),
    ),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768),
)
optim_wrapper = dict(type='OptimWrapper')
