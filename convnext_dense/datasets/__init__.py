"""Datasets: synthetic demo data generators and COCO input checks/evaluation helpers (registered in mmdet)."""
from .ade import CheckedADE20KDataset, SyntheticADE20KDataset  # noqa: F401  (registered in mmseg)
from .coco_checks import CheckedCocoDataset  # noqa: F401
from .coco_eval import CocoOutfileHook, InstanceTTAModel  # noqa: F401
from .data_root import rebase_data_root  # noqa: F401
from .synthetic_ade import generate_ade  # noqa: F401
from .synthetic_coco import generate_coco  # noqa: F401
