# DINO (4 scales) with a ConvNeXt-T backbone: mmdet's DINO config as it stands (900 queries, 100 denoising queries,
# DETR-style multi-scale + crop augmentation, AdamW lr 1e-4 / wd 1e-4 with the backbone at 0.1x, gradient clipping
# 0.1, 12 epochs with a step after 11, 8 GPUs x 2 images), with the backbone of detrex's DINO-ConvNeXt configs
# (projects/dino/configs/models/dino_convnext.py): stages 1-3 into the ChannelMapper (whose in_channels are
# computed from the arch), drop path 0, layer scale 1.0. docs/recipes.md, "Other heads".
#
# mmdet's DINO file is a whole config (model, data, schedule and runtime in one), which mmengine cannot combine
# with other bases: the project's runtime additions (_base_/default_runtime.py) and the checked COCO dataset are
# set here again (tests/test_configs/test_other_heads.py checks that they stay the same).
_base_ = 'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py'
from convnext_dense.models.arch import stage_channels  # noqa: E402  (a function: not kept in the parsed config)

arch = 'tiny'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ConvNeXt',
        arch=arch,
        out_indices=(1, 2, 3),
        drop_path_rate=0.0,
        layer_scale_init_value=1.0,
        init_cfg=dict(
            type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_tiny_22k_1k_384.pth'
        ),
    ),
    neck=dict(in_channels=stage_channels(arch, (1, 2, 3))),
)

dataset_type = 'CheckedCocoDataset'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
val_evaluator = dict(classwise=True, outfile_prefix='{log_dir}/coco_val')
test_evaluator = dict(classwise=True, outfile_prefix='{log_dir}/coco_test')

# _base_/default_runtime.py's additions to mmdet's runtime
custom_imports = dict(imports=['convnext_dense', 'convnext_dense.datasets'], allow_failed_imports=False)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='RandomStateHook'),
    dict(type='NumClassCheckHook'),
    dict(type='CocoOutfileHook'),
]
