# pretrain -> segment on the CPU: upernet_convnext_demo.py with the classification demo's backbone
# (1-1-3-1 blocks, widths 32..256, instead of the segmentation demo's 2-2-6-2) initialised from its
# checkpoint, so that every backbone tensor of the checkpoint fits.
#   make demo-cls                   # writes work_dirs/demo_cls/epoch_24.pth
#   python tools/train.py configs/segmentation/demo/upernet_convnext_demo_pretrained.py
#
# Fine-tuning recipe, as the paper's (AdamW, layer-wise lr decay, warm-up then poly): the new heads keep
# the demo's lr 2e-3; the backbone's layers get lr x 0.7 ** (num_layers + 1 - id) with the 1-1-3-1
# backbone numbered without gaps (num_layers=4: stem x0.17 ... stage 3 x0.7) instead of the demo's
# stage-wise 0.9. The random-init baseline of projects/demo_chain/demo_chain.py is this same config with
# model.backbone.init_cfg=None.
_base_ = './upernet_convnext_demo.py'

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, depths=[1, 1, 3, 1], dims=[32, 64, 128, 256]),
        init_cfg=dict(_delete_=True, type='Pretrained', checkpoint='work_dirs/demo_cls/epoch_24.pth'),
    )
)
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.7, decay_type='layer_wise', num_layers=4))
