# The Swin counterpart of upernet_convnext_demo.py: identical heads, data, schedule, inference and
# seed; only the backbone (mmseg's SwinTransformer at the ConvNeXt demo's widths, 2.3M parameters
# against ConvNeXt's 2.2M, from scratch) and its parameter groups differ.
#     python tools/train.py configs/segmentation/demo/upernet_swin_demo.py --seed 0
_base_ = ['./upernet_convnext_demo.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        embed_dims=32,
        patch_size=4,
        window_size=7,
        mlp_ratio=4,
        depths=[2, 2, 2, 2],
        num_heads=[1, 2, 4, 8],
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        drop_path_rate=0.1,
        use_abs_pos_embed=False,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN', requires_grad=True),
        init_cfg=None,
    )
)
# Same AdamW, lr and weight decay as the ConvNeXt demo; Swin's parameter rule (no decay on norms and
# relative position tables) instead of ConvNeXt's stage-wise lr decay, which has no Swin mapping.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.0),
            'relative_position_bias_table': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
        }
    ),
)
