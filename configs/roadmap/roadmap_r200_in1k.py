# The roadmap from ResNet-200 to ConvNeXt-B (paper Appendix C, Table 11; one run per step there): the R50 roadmap's
# recipe with the ResNet-200 regime. Drop path 0.5 is Table 5's value for ConvNeXt-B, the regime's end point;
# the paper does not give the rate of its ResNet-200 runs.
_base_ = './roadmap_r50_in1k.py'

model = dict(backbone=dict(regime='resnet200', drop_path_rate=0.5))
