# DINO (4 scales), ConvNeXt-T (ImageNet-22K pre-trained, 1K fine-tuned at 384), 12 epochs, 8 GPUs x 2 images.
# detrex's DINO-ConvNeXt-Tiny-384-4scale recipe on mmdet's DINO (all in _base_/models/dino_4scale_convnext.py);
# detrex reports 52.4 box AP on COCO val2017 with this file. Built and trained here only at demo scale
# (configs/detection/demo/dino_convnext_demo.py).
_base_ = '_base_/models/dino_4scale_convnext.py'
