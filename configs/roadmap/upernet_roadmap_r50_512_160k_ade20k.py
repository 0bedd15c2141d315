# UperNet on ADE20K with any step of the ResNet-50 roadmap as backbone: upernet_convnext_t_512_160k_ade20k.py with
# the backbone swapped (_base_/roadmap_r50_backbone.py; the default step is ConvNeXt-T with the authors' weights).
# Another step needs its ImageNet checkpoint and, before inverted_bottleneck, the heads' widths (docs/roadmap.md):
#   --cfg-options model.backbone.step=gelu model.backbone.init_cfg.checkpoint=work_dirs/roadmap_gelu/epoch_300.pth
# The stage-wise decay is mmseg's, by parameter name (mmseg's own constructor accepts only classes named ConvNeXt).
_base_ = ['../segmentation/upernet_convnext_t_512_160k_ade20k.py', './_base_/roadmap_r50_backbone.py']

model = dict(backbone={{_base_.roadmap_backbone}})
optim_wrapper = dict(constructor='LayoutLearningRateDecayOptimizerConstructor')
