# ConvNeXt image classifier: backbone (last stage, no output norm) -> avg pool -> LayerNorm -> Linear.
# Release defaults: layer scale 1e-6, head init scale 1.0, label smoothing 0.1 (used without Mixup).
model = dict(
    type='ConvNeXtClassifier',
    backbone=dict(
        type='ConvNeXt', arch='tiny', drop_path_rate=0.1, layer_scale_init_value=1e-6, out_indices=(3,), out_norm=False
    ),
    num_classes=1000,
    head_init_scale=1.0,
    label_smoothing=0.1,
)
