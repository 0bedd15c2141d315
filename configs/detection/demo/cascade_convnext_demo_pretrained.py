# pretrain -> detect on the CPU: cascade_convnext_demo.py with its backbone initialised from the
# classification demo's checkpoint (same small ConvNeXt, pretrained on the synthetic shapes folder).
#   make demo-cls                   # writes work_dirs/demo_cls/epoch_24.pth
#   python tools/train.py configs/detection/demo/cascade_convnext_demo_pretrained.py
# The backbone takes the checkpoint's trained (non-EMA) backbone.* weights, as the paper's detection runs
# did; the new output norms norm0..norm3 start at identity. A missing file is an error naming the path.
#
# Fine-tuning recipe, as the paper's detection recipes (layer-wise lr decay 0.7 for Cascade T): the
# demo's lr 1e-3 stays the lr of the new neck and heads, which start from scratch and have a few hundred
# iterations; the backbone's layers get lr x 0.7 ** (num_layers + 1 - id). num_layers=4 numbers the
# 1-1-3-1 backbone without gaps (stem 0, stage 0 -> 1, stage 1 -> 2, stage 2 -> 3, stage 3 -> 4):
# stem x0.17, stage 0 x0.24, stage 1 x0.34, stage 2 x0.49, stage 3 x0.7. The warm-up of the demo's
# schedule is kept. The random-init baseline of projects/demo_chain/demo_chain.py is this same config with
# model.backbone.init_cfg=None.
_base_ = './cascade_convnext_demo.py'

model = dict(
    backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint='work_dirs/demo_cls/epoch_24.pth'))
)
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.7, decay_type='layer_wise', num_layers=4))
