# Mask R-CNN, ConvNeXt V2-B (FCMAE pre-trained, ImageNet-1K fine-tuned, EMA release), 3x. The V2 paper
# reports Mask R-CNN for V2-B/L/H but its fine-tuning hyperparameters are not in the authors' repositories:
# heads, data and schedule are mask_rcnn_convnext_t_3x's, and drop path, lr and layer decay are those of the
# released V1 Cascade recipe of the same width (ConvNeXt-B, 1K): 0.7, 2e-4, 0.8 over 12 layers.
# V2 blocks have GRN and no layer scale (layer_scale_init_value=0).
_base_ = './mask_rcnn_convnext_t_3x.py'

model = dict(
    backbone=dict(
        arch='v2-base',
        layer_scale_init_value=0.0,
        drop_path_rate=0.7,
        init_cfg=dict(
            checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/im1k/convnextv2_base_1k_224_ema.pt'
        ),
    ),
    neck=dict(in_channels=[128, 256, 512, 1024]),
)
optim_wrapper = dict(optimizer=dict(lr=2e-4), paramwise_cfg=dict(decay_rate=0.8, num_layers=12))
