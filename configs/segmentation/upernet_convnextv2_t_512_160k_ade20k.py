# UperNet ConvNeXt V2-T, ImageNet-1K init (FCMAE pre-trained, then fine-tuned), 512x512, 160k.
# The V2 paper gives no ADE20K recipe for T (it reports B/L/H): every hyperparameter not fixed by
# the V2 architecture follows V1-T's (drop path 0.4, lr 1e-4, stage-wise decay 0.9 with
# num_layers 6, AMP, heads, data and schedule). V2 blocks have GRN and no layer scale, so the
# layer_scale_init_value=1.0 of the V1 base is reset to the arch default (none).
_base_ = ['./upernet_convnext_t_512_160k_ade20k.py']
model = dict(
    backbone=dict(
        arch='v2-tiny',
        layer_scale_init_value=None,
        init_cfg=dict(
            checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/im1k/convnextv2_tiny_1k_224_ema.pt'
        ),
    )
)
