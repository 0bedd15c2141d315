# mmdet's SwinTransformer with its official detection settings (mmdet's configs/swin/ and the Swin
# authors' detection repo), kept as variables so that a Swin config is the matching ConvNeXt config
# with the backbone and the optimizer swapped:
#
#     _base_ = ['./cascade_convnext_t_3x.py', './_base_/models/swin.py']
#     model = dict(backbone={{_base_.swin_t_backbone}})
#     optim_wrapper = {{_base_.swin_optim_wrapper}}
#
# Swin-T and Swin-S emit 96/192/384/768 channels, the same as ConvNeXt-T/S, so the neck is unchanged.
swin_t_backbone = dict(
    _delete_=True,  # replaces the ConvNeXt backbone dict instead of merging into it
    type='SwinTransformer',
    embed_dims=96,
    depths=[2, 2, 6, 2],
    num_heads=[3, 6, 12, 24],
    window_size=7,
    mlp_ratio=4,
    qkv_bias=True,
    qk_scale=None,
    drop_rate=0.0,
    attn_drop_rate=0.0,
    drop_path_rate=0.2,
    patch_norm=True,
    out_indices=(0, 1, 2, 3),
    with_cp=False,
    convert_weights=True,  # the authors' checkpoint layout -> mmdet's
    init_cfg=dict(
        type='Pretrained',
        checkpoint='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth',
    ),
)

# Swin's own recipe differs from ConvNeXt's: lr 1e-4 for both Mask R-CNN and Cascade, no layer-wise
# decay, and no weight decay on position tables and norms (mmdet's swin configs). AMP as in mmdet's
# *_amp-ms-crop-3x_coco.py (the authors trained Swin detectors in fp16 as well).
swin_optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.0),
            'relative_position_bias_table': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
        }
    ),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
)
