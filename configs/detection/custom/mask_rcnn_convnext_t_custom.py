# Your own COCO-format instance segmentation data (boxes + polygon or RLE masks), Mask R-CNN ConvNeXt-T 1x from
# the ImageNet-1K weights (the recipe of ../mask_rcnn_convnext_t_1x.py). Copy this file next to itself, set
# data_root and classes; the heads' class count follows from the names. Walk-through: docs/custom_data.md.
#   <data_root>/annotations/train.json  <data_root>/train/*.jpg   (file_name in the json, relative to train/)
#   <data_root>/annotations/val.json    <data_root>/val/*.jpg
# classes: category names of the json, in the json's order (the preflight compares them with the file).
_base_ = '../mask_rcnn_convnext_t_1x.py'

data_root = 'data/my_coco/'
classes = ('balloon', 'kite')

metainfo = dict(classes=classes)
model = dict(roi_head=dict(bbox_head=dict(num_classes=len(classes)), mask_head=dict(num_classes=len(classes))))
train_dataloader = dict(
    dataset=dict(
        data_root=data_root, metainfo=metainfo, ann_file='annotations/train.json', data_prefix=dict(img='train/')
    )
)
val_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/val.json', data_prefix=dict(img='val/'))
)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/val.json')
