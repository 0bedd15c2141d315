# The paper's roadmap from ResNet-50 to ConvNeXt-T (Section 2, Table 10) on ImageNet-1K: every step trained with
# the same recipe, Table 5's ImageNet-1K setting with EMA off (Appendix A.1: "EMA severely hurts models with
# BatchNorm"), drop path 0.1, 300 epochs, batch 4096; the paper reports each step's mean over 3 seeds.
# One config for every step: the step (and the seed) are options, e.g.
#   python tools/train.py configs/roadmap/roadmap_r50_in1k.py --seed 1 --cfg-options model.backbone.step=gelu
# Steps: convnext_dense.models.roadmap_steps.STEPS; docs/roadmap.md says what each changes.
_base_ = '../classification/convnext_t_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True, type='ModernizedResNet', step='separate_downsampling', regime='resnet50', drop_path_rate=0.1
    )
)
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RandomStateHook')]  # no EMA
