# ConvNeXt V2-L: supervised ImageNet-1K fine-tuning of the FCMAE encoder. NOT VERIFIED: the authors'
# TRAINING.md gives the command for Base only; this uses Base's recipe unchanged (the V2 paper's appendix
# lists per-size layer decay, drop path and epochs for B/L/H, which could not be checked here). Compare
# with the paper before use.
_base_ = './convnextv2_base_fcmae_ft_in1k.py'

model = dict(
    backbone=dict(arch='v2-large'),
    finetune=dict(
        checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_large_1k_224_fcmae.pt'
    ),
)
