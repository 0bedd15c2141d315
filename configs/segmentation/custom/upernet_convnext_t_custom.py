# Your own semantic segmentation data (images + one-channel PNG label maps of class indices), UperNet ConvNeXt-T
# from the ImageNet-1K weights (the recipe of ../upernet_convnext_t_512_160k_ade20k.py). Copy this file next to
# itself and edit the block below; the heads' class count follows from the names. Walk-through: docs/custom_data.md.
#   <data_root>/images/{train,val}/NAME.jpg   <data_root>/annotations/{train,val}/NAME.png
# reduce_zero_label=False: the PNG values are 0..N-1 = classes.  True: 0 = unlabelled (ignored) and 1..N = classes,
# as in ADE20K. Pixels of value ignore_index are ignored in the loss and the mIoU. palette: one RGB colour a class,
# for drawn predictions.
_base_ = '../upernet_convnext_t_512_160k_ade20k.py'

data_root = 'data/my_seg'
classes = ('background', 'road', 'car')
palette = [(0, 0, 0), (128, 64, 128), (0, 0, 142)]
reduce_zero_label = False
ignore_index = 255

n = len(classes)
model = dict(
    decode_head=dict(num_classes=n, ignore_index=ignore_index),
    auxiliary_head=dict(num_classes=n, ignore_index=ignore_index),
)
data = dict(
    type='CheckedSegDataset',
    data_root=data_root,
    metainfo=dict(classes=classes, palette=palette),
    reduce_zero_label=reduce_zero_label,
    ignore_index=ignore_index,
)
load = dict(type='LoadAnnotations', reduce_zero_label=None)  # the dataset's reduce_zero_label
train_pipeline = [load if t['type'] == 'LoadAnnotations' else t for t in _base_.train_pipeline]
test_pipeline = [load if t['type'] == 'LoadAnnotations' else t for t in _base_.test_pipeline]
tta_pipeline = [
    _base_.tta_pipeline[0],
    dict(
        _base_.tta_pipeline[1],
        transforms=[[load] if i == 2 else t for i, t in enumerate(_base_.tta_pipeline[1].transforms)],
    ),
]
train_dataloader = dict(
    dataset=dict(
        data, data_prefix=dict(img_path='images/train', seg_map_path='annotations/train'), pipeline=train_pipeline
    )
)
val_dataloader = dict(
    dataset=dict(data, data_prefix=dict(img_path='images/val', seg_map_path='annotations/val'), pipeline=test_pipeline)
)
test_dataloader = val_dataloader
val_evaluator = dict(ignore_index=ignore_index)
test_evaluator = val_evaluator
