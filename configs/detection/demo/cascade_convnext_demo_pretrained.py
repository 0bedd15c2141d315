# pretrain -> detect on the CPU: cascade_convnext_demo.py with its backbone initialised from the
# classification demo's checkpoint (same small ConvNeXt, pretrained on the synthetic shapes folder).
#   make demo-cls                   # writes work_dirs/demo_cls/epoch_24.pth
#   python tools/train.py configs/detection/demo/cascade_convnext_demo_pretrained.py
# The backbone takes the checkpoint's trained (non-EMA) backbone.* weights, as the paper's detection runs
# did; the new output norms norm0..norm3 start at identity. A missing file is an error naming the path.
_base_ = './cascade_convnext_demo.py'

model = dict(backbone=dict(
    init_cfg=dict(_delete_=True, type='Pretrained', checkpoint='work_dirs/demo_cls/epoch_24.pth')))
