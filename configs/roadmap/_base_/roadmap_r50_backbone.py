# The backbone of the roadmap's dense configs: a step of the ResNet-50 roadmap in place of ConvNeXt-T, with the
# ConvNeXt-T configs' drop path and the authors' ConvNeXt-T weights for the default step, separate_downsampling
# (ConvNeXt-T itself). BatchNorm steps keep their ImageNet statistics (norm_eval, as mmdet's ResNet detectors at
# 2 images per GPU). A derived config puts it in place with model = dict(backbone={{_base_.roadmap_backbone}}).
roadmap_backbone = dict(
    _delete_=True,
    type='ModernizedResNet',
    step='separate_downsampling',
    regime='resnet50',
    out_indices=(0, 1, 2, 3),
    drop_path_rate=0.4,
    norm_eval=True,
    init_cfg=dict(type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'),
)
