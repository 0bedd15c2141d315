# Isotropic ConvNeXt-S (paper Section 3.3, Table 2: 22M parameters, 4.3 GFLOPs, 79.7 top-1) on ImageNet-1K from
# scratch, as released (facebookresearch/ConvNeXt TRAINING.md; paper Appendix A.1): the ConvNeXt-T recipe with a
# 50-epoch warm-up, drop path 0.1 and no layer scale; EMA as released (--model_ema true --model_ema_eval true).
# The authors' weights (README top-1 78.7; convnext_dense.models.convnext_isotropic.ISOTROPIC_WEIGHTS):
#   --cfg-options model.finetune.checkpoint=https://dl.fbaipublicfiles.com/convnext/convnext_iso_small_1k_224_ema.pth
_base_ = './convnext_t_in1k.py'

model = dict(
    backbone=dict(_delete_=True, type='ConvNeXtIsotropic', arch='small', drop_path_rate=0.1, layer_scale_init_value=0.0)
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=50, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', T_max=250, eta_min=1e-6, by_epoch=True, begin=50, end=300, convert_to_iter_based=True
    ),
]
