# ConvNeXt-B: ImageNet-1K 224 model fine-tuned at 384 (paper: 85.1 top-1), as released (TRAINING.md,
# "Finetune from ImageNet-1K pre-training"): from the released 1K checkpoint (EMA weights, under its
# 'model' key; the 1000-class head is kept, as the release keeps a head of matching shape), AdamW lr 5e-5
# at batch 512 (16 GPUs x 32), wd 1e-8, layer-wise lr decay 0.7 over 12 layers, drop path 0.8, head init
# scale 0.001, 30 epochs of cosine with no warm-up, no Mixup/CutMix, no EMA; evaluation warps to 384x384.
_base_ = './convnext_b_in22k_ft_in1k_384.py'

model = dict(
    backbone=dict(drop_path_rate=0.8),
    finetune=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_base_1k_224_ema.pth'),
)
train_dataloader = dict(batch_size=32)
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.7))
