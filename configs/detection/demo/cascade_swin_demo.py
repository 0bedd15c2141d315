# cascade_convnext_demo.py with a Swin backbone of comparable size (2/2/2/2 blocks, widths 32..256, window 7,
# random init): neck, heads, data, schedule and optimizer settings are identical.
_base_ = './cascade_convnext_demo.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        embed_dims=32,
        depths=[2, 2, 2, 2],
        num_heads=[1, 2, 4, 8],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.0,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        convert_weights=False,
        init_cfg=None,
    )
)
# mmdet's LearningRateDecayOptimizerConstructor only knows ConvNeXt: Swin takes the default constructor with the
# same lr and weight decay, and no weight decay on norms and position tables (Swin's recipe; ConvNeXt's 1-D rule).
optim_wrapper = dict(
    constructor='DefaultOptimWrapperConstructor',
    paramwise_cfg=dict(
        _delete_=True,
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.0),
            'relative_position_bias_table': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
        },
    ),
)
