# ConvNeXt-B: 22K -> 1K fine-tuning at 384 (paper: 86.8 top-1), from the 22K 224 checkpoint: the 224
# recipe at 384 px, batch 512 as 32 GPUs x 16 (TRAINING.md). Evaluation warps the image to 384x384
# without cropping, as the release's datasets.py does for inputs of 384 and larger.
_base_ = './convnext_b_in22k_ft_in1k_224.py'

train_dataloader = dict(batch_size=16, dataset=dict(transform=dict(input_size=384)))
val_dataloader = dict(batch_size=24, dataset=dict(transform=dict(input_size=384, crop_pct=1.0, crop_mode='squash')))
test_dataloader = dict(batch_size=24, dataset=dict(transform=dict(input_size=384, crop_pct=1.0, crop_mode='squash')))
