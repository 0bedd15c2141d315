"""Datasets: COCO and ADE20K with input checks (mmdet / mmseg), the ImageNet-style image folder
and CIFAR-100 (mmengine), and the synthetic demo data generators (:mod:`.synthetic`)."""

from .ade import CheckedADE20KDataset, CheckedSegDataset
from .cifar import CIFAR100Dataset
from .coco import CheckedCocoDataset
from .imagefolder import ImageFolderDataset
from .synthetic import SyntheticADE20KDataset, generate_ade, generate_coco, generate_imagefolder

__all__ = [
    'CIFAR100Dataset',
    'CheckedADE20KDataset',
    'CheckedCocoDataset',
    'CheckedSegDataset',
    'ImageFolderDataset',
    'SyntheticADE20KDataset',
    'generate_ade',
    'generate_coco',
    'generate_imagefolder',
]
