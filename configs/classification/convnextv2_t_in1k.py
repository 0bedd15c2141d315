# ConvNeXt V2-T (GRN, no layer scale) trained from scratch with the V1 supervised recipe above. The V2
# paper's own recipe is FCMAE self-supervised pre-training + fine-tuning, which is not reproduced here;
# this config has no published top-1 to match. Its checkpoints feed the *_convnextv2_t_* dense configs.
_base_ = './convnext_t_in1k.py'

model = dict(backbone=dict(arch='v2-tiny', drop_path_rate=0.1, layer_scale_init_value=0.0))
