# ConvNeXt-T on ImageNet-1K from scratch, 300 epochs, batch 4096 (32 GPUs x 128). Paper: 82.1 top-1.
#   bash tools/dist_train.sh configs/classification/convnext_t_in1k.py 8   # 8 GPUs: lr scaled to 1e-3
_base_ = [
    '_base_/models/convnext_cls.py',
    '_base_/datasets/imagenet_224.py',
    '_base_/schedules/adamw_300e_bs4096.py',
    '_base_/default_runtime.py',
]

model = dict(backbone=dict(arch='tiny', drop_path_rate=0.1))
