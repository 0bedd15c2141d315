# Mask2Former (semantic) with a ConvNeXt-T backbone: mmseg's Mask2Former ADE20K config as it stands (MSDeformAttn
# pixel decoder on stages 1-3, 9 decoder layers, 100 queries, 512x512 crops of short-side-resized images, AdamW lr
# 1e-4 / wd 0.05 with the backbone at 0.1x and no decay on norms and query / level embeddings, gradient clipping 0.01,
# poly schedule, 160k iterations, 8 GPUs x 2 images), the backbone swapped. The pixel decoder's in_channels are
# computed from the arch (stage_channels). The ConvNeXt settings are the ADE20K ones of the UperNet recipe: drop path
# 0.4, layer scale 1.0. docs/recipes.md, "Other heads" (Mask2Former pull request #34, mmseg #2645).
#
# mmseg's Mask2Former file is a whole config (model, data, schedule and runtime in one), which mmengine cannot
# combine with other bases: the project's runtime additions (_base_/default_runtime.py, the checkpoint hook of
# _base_/schedules/schedule_160k.py) and the checked ADE20K dataset are set here again
# (tests/test_configs/test_other_heads.py checks that they stay the same).
_base_ = 'mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py'
from convnext_dense.models.arch import stage_channels  # noqa: E402  (a function: not kept in the parsed config)

arch = 'tiny'
model = dict(
    backbone=dict(
        _delete_=True,  # replaces mmseg's ResNet
        type='ConvNeXt',
        arch=arch,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        init_cfg=dict(type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'),
    ),
    decode_head=dict(in_channels=stage_channels(arch)),
)

dataset_type = 'CheckedADE20KDataset'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader

# the project's runtime additions to mmseg's; mmseg's Mask2Former heads live in mmdet.models
custom_imports = dict(imports=['mmdet.models', 'convnext_dense', 'convnext_dense.datasets'], allow_failed_imports=False)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RandomStateHook')]
