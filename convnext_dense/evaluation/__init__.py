"""Evaluation: top-k accuracy for the classifier (COCO AP and mIoU are mmdet's and mmseg's own metrics)."""

from .metric import TopKAccuracy

__all__ = ['TopKAccuracy']
