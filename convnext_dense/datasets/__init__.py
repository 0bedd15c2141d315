"""Datasets: COCO and ADE20K with input checks (mmdet / mmseg), the ImageNet-style image folder
(mmengine), and the synthetic demo data generators (:mod:`.synthetic`)."""

from .ade import CheckedADE20KDataset, CheckedSegDataset
from .coco import CheckedCocoDataset
from .imagefolder import ImageFolderDataset
from .synthetic import SyntheticADE20KDataset, generate_ade, generate_coco, generate_imagefolder

__all__ = [
    'CheckedADE20KDataset',
    'CheckedCocoDataset',
    'CheckedSegDataset',
    'ImageFolderDataset',
    'SyntheticADE20KDataset',
    'generate_ade',
    'generate_coco',
    'generate_imagefolder',
]
