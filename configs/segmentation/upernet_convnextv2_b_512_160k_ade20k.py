# UperNet ConvNeXt V2-B, FCMAE -> ImageNet-1K init (EMA release), 512x512, 160k. The V2 paper reports UperNet
# for V2-B/L/H but its hyperparameters are not in the authors' repositories: everything follows the released
# V1-B 512 recipe (upernet_convnext_b_512_160k_ade20k.py: drop path 0.4, lr 1e-4, stage-wise decay 0.9 over
# 12, AMP). V2 blocks have GRN and no layer scale (layer_scale_init_value=None: the arch default).
_base_ = ['./upernet_convnext_b_512_160k_ade20k.py']
model = dict(
    backbone=dict(
        arch='v2-base',
        layer_scale_init_value=None,
        init_cfg=dict(
            checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/im1k/convnextv2_base_1k_224_ema.pt'
        ),
    )
)
