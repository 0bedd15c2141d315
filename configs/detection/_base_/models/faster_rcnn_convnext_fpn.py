# Faster R-CNN (boxes only) with a ConvNeXt-T backbone and FPN: the Mask R-CNN base of this project without its
# mask branch, so every other setting (RPN, RoI head, assigners, test settings: mmdet's Mask R-CNN base, as in
# the authors' config) stays the one the box AP of mask_rcnn_convnext_t_*.py was trained with.
_base_ = './mask_rcnn_convnext_fpn.py'

model = dict(type='FasterRCNN', roi_head=dict(mask_roi_extractor=None, mask_head=None))
