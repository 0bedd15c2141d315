# COCO boxes only (no "segmentation" needed in the json) with the augmentation of coco_instance_ms_crop.py (the
# ConvNeXt 3x recipes' multi-scale + crop) and COCO box AP: that file with masks neither loaded nor evaluated.
_base_ = './coco_instance_ms_crop.py'

train_pipeline = [dict(t, with_mask=False) if t['type'] == 'LoadAnnotations' else t for t in _base_.train_pipeline]
test_pipeline = [dict(t, with_mask=False) if t['type'] == 'LoadAnnotations' else t for t in _base_.test_pipeline]
tta_pipeline = [
    _base_.tta_pipeline[0],
    dict(
        _base_.tta_pipeline[1],
        transforms=[_base_.tta_pipeline[1].transforms[i] for i in (0, 1)]
        + [[dict(type='LoadAnnotations', with_bbox=True, with_mask=False)], _base_.tta_pipeline[1].transforms[3]],
    ),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(metric='bbox')
test_evaluator = dict(metric='bbox')
