# COCO 2017 boxes only, as mmdet's own detection base: single scale 1333x800 with flip for training, the same scale
# for testing, COCO box AP. The dataset is mmdet's CocoDataset with clear errors for broken inputs
# (convnext_dense/datasets/coco.py); the AP table is per category and the detections are kept as COCO results JSON
# in the run's log folder, as in coco_instance_ms_crop.py. To read another root: --cfg-options data_root=/path/
_base_ = 'mmdet::_base_/datasets/coco_detection.py'

dataset_type = 'CheckedCocoDataset'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
val_evaluator = dict(classwise=True, outfile_prefix='{log_dir}/coco_val')
test_evaluator = dict(classwise=True, outfile_prefix='{log_dir}/coco_test')
