# mmseg's SwinTransformer with its official ADE20K settings (mmseg's configs/swin/), kept as variables so
# that a Swin config is the matching ConvNeXt config with the backbone and the optimizer swapped, as in
# configs/detection/_base_/models/swin.py:
#
#     _base_ = ['./upernet_convnext_t_512_160k_ade20k.py', './_base_/models/swin.py']
#     model = dict(backbone={{_base_.swin_t_backbone}})
#     optim_wrapper = {{_base_.swin_optim_wrapper}}
#
# Swin-T and Swin-S emit 96/192/384/768 channels, the same as ConvNeXt-T/S, so the heads are unchanged.
swin_t_backbone = dict(
    _delete_=True,  # replaces the ConvNeXt backbone dict instead of merging into it
    type='SwinTransformer',
    pretrain_img_size=224,
    embed_dims=96,
    patch_size=4,
    window_size=7,
    mlp_ratio=4,
    depths=[2, 2, 6, 2],
    num_heads=[3, 6, 12, 24],
    strides=(4, 2, 2, 2),
    out_indices=(0, 1, 2, 3),
    qkv_bias=True,
    qk_scale=None,
    patch_norm=True,
    drop_rate=0.0,
    attn_drop_rate=0.0,
    drop_path_rate=0.3,
    use_abs_pos_embed=False,
    act_cfg=dict(type='GELU'),
    norm_cfg=dict(type='LN', requires_grad=True),
    # mmseg's converted copy of the Swin authors' weights, as mmseg's configs/swin use
    init_cfg=dict(
        type='Pretrained',
        checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_tiny_patch4_window7_224_20220317-1cdeb081.pth',
    ),
)

# Swin's own recipe: AdamW lr 6e-5 and weight decay 0.01 with no decay on norms and position tables
# instead of stage-wise lr decay; fp32, as in mmseg's Swin configs.
swin_optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.0),
            'relative_position_bias_table': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
        }
    ),
)
