# Mask2Former (semantic) ConvNeXt-T, ImageNet-1K init, 512x512 crops, 160k iterations on ADE20K, 8 GPUs x 2 images:
# mmseg's Mask2Former recipe with ConvNeXt-T (all in _base_/models/mask2former_convnext.py). Built and trained here
# only at demo scale (configs/segmentation/demo/mask2former_convnext_demo.py).
_base_ = './_base_/models/mask2former_convnext.py'
