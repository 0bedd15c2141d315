# Cascade Mask R-CNN, ConvNeXt-V2-T (FCMAE pre-trained, ImageNet-1K fine-tuned), 3x.
# No V2 detection recipe is released (docs/recipes.md): drop path, lr and layer decay follow the V1-T Cascade recipe.
# V2 blocks have GRN and no layer scale, so layer_scale_init_value is 0 (no gamma, as in V2 checkpoints).
_base_ = './cascade_convnext_t_3x.py'

model = dict(
    backbone=dict(
        arch='v2-tiny',
        layer_scale_init_value=0.0,
        init_cfg=dict(
            checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/im1k/convnextv2_tiny_1k_224_ema.pt'
        ),
    )
)
