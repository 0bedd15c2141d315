# DeepLabV3+ with the small ConvNeXt of upernet_convnext_demo.py (2-2-6-2 blocks, widths 32..256, from scratch) on
# the synthetic ADE20K-format textures, for 2 CPU cores: the model base of deeplabv3plus_convnext_t_512_160k_ade20k.py
# with the heads narrowed (ASPP 64 channels, decoder shortcut 16, aux head 32); data and schedule are the UperNet
# demo's (_base_/synthetic_ade_cpu.py); whole-image inference, as the recipe.
#     python tools/make_demo_data.py ade --out data/synthetic_ade
#     python tools/train.py configs/segmentation/demo/deeplabv3plus_convnext_demo.py
_base_ = ['../_base_/models/deeplabv3plus_convnext.py', './_base_/synthetic_ade_cpu.py']
from convnext_dense.models.arch import stage_channels  # noqa: E402

arch = dict(_delete_=True, depths=[2, 2, 6, 2], dims=[32, 64, 128, 256])
widths = stage_channels(arch)
num_classes = 5
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=dict(arch=arch, drop_path_rate=0.1, init_cfg=None),
    decode_head=dict(
        in_channels=widths[3], c1_in_channels=widths[0], channels=64, c1_channels=16, num_classes=num_classes
    ),
    auxiliary_head=dict(in_channels=widths[2], channels=32, num_classes=num_classes),
)
