# Cascade R-CNN (boxes only) with a ConvNeXt-T backbone, FPN and the paper's three cascade box heads: the Cascade
# Mask R-CNN base of this project without its mask branch.
_base_ = './cascade_mask_rcnn_convnext_fpn.py'

model = dict(type='CascadeRCNN', roi_head=dict(mask_roi_extractor=None, mask_head=None))
