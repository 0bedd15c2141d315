# ConvNeXt V2-Pico: supervised ImageNet-1K fine-tuning of the FCMAE encoder. NOT VERIFIED: the authors'
# TRAINING.md gives the command for Atto only; this uses Atto's recipe unchanged (the V2 paper's appendix
# lists the small models' setting, which could not be checked here). Compare with the paper before use.
_base_ = './convnextv2_atto_fcmae_ft_in1k.py'

model = dict(
    backbone=dict(arch='v2-pico'),
    finetune=dict(
        checkpoint='https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/convnextv2_pico_1k_224_fcmae.pt'
    ),
)
