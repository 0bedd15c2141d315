# DINO (4 scales), ConvNeXt-L (ImageNet-22K pre-trained, 1K fine-tuned at 384), 12 epochs: detrex's
# DINO-ConvNeXt-Large-384-4scale recipe (55.5 box AP reported by detrex); dino_convnext_t_in22k_12e.py with the arch
# and the file of this size.
_base_ = './dino_convnext_t_in22k_12e.py'
from convnext_dense.models.arch import stage_channels  # noqa: E402

arch = 'large'
model = dict(
    backbone=dict(
        arch=arch,
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/convnext/convnext_large_22k_1k_384.pth'),
    ),
    neck=dict(in_channels=stage_channels(arch, _base_.model.backbone.out_indices)),
)
