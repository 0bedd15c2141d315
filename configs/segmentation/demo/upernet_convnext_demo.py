# A CPU demo of the segmentation stack: a small ConvNeXt (custom arch, trained from scratch) with
# the UperNet heads of the real configs, narrowed, on the synthetic ADE20K-format texture dataset
#     python tools/make_demo_data.py ade --out data/synthetic_ade
#     python tools/train.py configs/segmentation/demo/upernet_convnext_demo.py --seed 0
# Everything not changed here or in _base_/synthetic_ade_cpu.py (data and schedule of the demos) is the ADE20K
# recipe of the bases: head layout, aux head on stage 3 with loss 0.4, stage-wise lr decay, warm-up + poly
# schedule, slide inference, IoUMetric, TTA.
_base_ = ['../_base_/models/upernet_convnext.py', './_base_/synthetic_ade_cpu.py']
num_classes = 5
crop_size = (128, 128)

# ConvNeXt-T's 1:1:3:1 stage ratio at widths 32..256: 2.2M backbone parameters (the Swin demo's: 2.3M).
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch=dict(_delete_=True, depths=[2, 2, 6, 2], dims=[32, 64, 128, 256]), drop_path_rate=0.1, init_cfg=None
    ),  # from scratch: no download, no checkpoint
    decode_head=dict(in_channels=[32, 64, 128, 256], channels=64, num_classes=num_classes),
    auxiliary_head=dict(in_channels=128, channels=32, num_classes=num_classes),
    test_cfg=dict(crop_size=crop_size, stride=(85, 85)),
)
