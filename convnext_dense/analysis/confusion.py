"""Confusion matrices from ``tools/test.py --out`` results: detection (mmdet's definition) and segmentation (pixels).

* Detection: ``tools/test.py CONFIG CKPT --out results.pkl`` adds mmdet's ``DumpDetResults`` to the test
  evaluator: one dict an image, in the dataset's order, with ``pred_instances`` (``bboxes``, ``scores``,
  ``labels`` tensors; masks RLE-encoded). The matrix is computed by mmdet's own
  ``calculate_confusion_matrix`` (``mmdet/.mim/tools/analysis_tools/confusion_matrix.py``, loaded from the
  installed wheel): rows are the ground-truth classes and background, columns the predicted classes and
  background. A prediction with score >= ``score_thr`` adds 1 to ``[gt class, predicted class]`` for every
  ground-truth box it overlaps with IoU >= ``tp_iou_thr``, and to ``[background, predicted class]`` when it
  overlaps none; a ground-truth box that no prediction of its class matched adds 1 to ``[gt class,
  background]``.
* Segmentation: ``tools/test.py CONFIG CKPT --out DIR`` sets mmseg's ``IoUMetric.output_dir``: one PNG of
  predicted labels an image, named after the image (``<stem>.png``), holding ``label + 1`` where the dataset
  has ``reduce_zero_label``. The matrix counts pixels: ``[ground-truth class, predicted class]``, without
  the pixels of ``ignore_index``. mmseg's ``confusion_matrix.py`` is not used for the counting: it pairs
  the PNGs with the images by sorted file name instead of by name, takes the classes from the dataset
  class's default ``METAINFO`` instead of the config's, does not undo the ``+ 1`` that ``IoUMetric`` wrote
  under ``reduce_zero_label``, and subtracts 1 from a ground truth that its ``LoadAnnotations`` has already
  reduced.

Both are written as a PNG (the row-normalised matrix, drawn by mmdet's ``plot_confusion_matrix``; mmseg's
copy of it draws 2 inches a class at 300 dpi, 3600 pixels wide for 6 classes; at least 5 inches wide here,
where mmdet's is 0.5 inch a class) and a CSV of the counts.
"""

import csv
import importlib.util
import os
import os.path as osp
from typing import List, Sequence
from unittest import mock

import numpy as np

from ..errors import DataError, MissingFileError

__all__ = ['det_confusion_matrix', 'load_upstream_tool', 'pixel_confusion', 'seg_confusion_matrix', 'write_matrix']


def load_upstream_tool(package: str, name: str):
    """The module ``<package>/.mim/tools/analysis_tools/<name>.py`` of an installed OpenMMLab wheel.

    The wheels ship their tools as files, not as an importable package; they are loaded by path.
    """
    import matplotlib

    matplotlib.use('Agg')  # the tools import pyplot at the top: no display here
    root = osp.dirname(importlib.import_module(package).__file__)
    path = osp.join(root, '.mim', 'tools', 'analysis_tools', f'{name}.py')
    if not osp.isfile(path):
        raise ImportError(f'{package} ships no {path}: reinstall it from its wheel (pip install {package})')
    spec = importlib.util.spec_from_file_location(f'_{package}_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build_test_set(cfg):
    from mmengine.registry import init_default_scope

    scope = cfg.get('default_scope') or 'mmengine'
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry').DATASETS
    return registry.build(cfg.test_dataloader.dataset)


def det_confusion_matrix(cfg, results_file: str, score_thr: float = 0.3, tp_iou_thr: float = 0.5, nms_iou_thr=None):
    """mmdet's confusion matrix of a ``--out results.pkl`` on the config's test set.

    Returns:
        (matrix, labels): a (C + 1, C + 1) float array of counts and the class names + ``'background'``.

    Raises:
        MissingFileError: no such results file. DataError: not a list of per-image results with
        ``pred_instances``, or a number of images other than the test set's.
    """
    from mmengine.fileio import load

    if not osp.isfile(results_file):
        raise MissingFileError(
            f'results {results_file!r} do not exist: write them with '
            f'tools/test.py CONFIG CHECKPOINT --out {results_file}'
        )
    results = load(results_file)
    if not isinstance(results, list) or not all(isinstance(r, dict) and 'pred_instances' in r for r in results):
        raise DataError(
            f'{results_file!r} is not the detection results of tools/test.py --out (a list of per-image dicts with '
            f'pred_instances); for segmentation give the folder of PNG masks'
        )
    dataset = _build_test_set(cfg)
    if len(results) != len(dataset):
        raise DataError(
            f"{results_file!r} holds {len(results)} images, the config's test set {len(dataset)}: give the results "
            f'of this config (same test_dataloader)'
        )
    tool = load_upstream_tool('mmdet', 'confusion_matrix')
    matrix = tool.calculate_confusion_matrix(dataset, results, score_thr, nms_iou_thr, tp_iou_thr)
    return matrix, list(dataset.metainfo['classes']) + ['background']


def pixel_confusion(gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """(num_classes, num_classes) pixel counts ``[gt, pred]``, without the ``ignore_index`` pixels of ``gt``.

    Example:
        >>> pixel_confusion(np.array([[0, 1], [1, 255]]), np.array([[0, 0], [1, 1]]), 2).tolist()
        [[1, 0], [1, 1]]
    """
    keep = gt != ignore_index
    gt, pred = gt[keep].astype(np.int64), pred[keep].astype(np.int64)
    return np.bincount(num_classes * gt + pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def seg_confusion_matrix(cfg, pred_dir: str):
    """The pixel confusion matrix of a ``--out DIR`` of PNG predictions on the config's test set.

    The ground truth is read by mmseg's ``LoadAnnotations`` (``reduce_zero_label`` and the label map as in
    testing); a prediction is ``<pred_dir>/<image stem>.png``.

    Returns:
        (matrix, labels): a (C, C) int64 array of counts and the class names.

    Raises:
        MissingFileError: no such folder or a missing prediction. DataError: a prediction whose size differs
        from its label map's, or a predicted label outside the classes.
    """
    from mmseg.datasets.transforms import LoadAnnotations
    from PIL import Image

    if not osp.isdir(pred_dir):
        raise MissingFileError(
            f'predictions {pred_dir!r} are not a folder: write them with '
            f'tools/test.py CONFIG CHECKPOINT --out {pred_dir}'
        )
    dataset = _build_test_set(cfg)
    classes = list(dataset.metainfo['classes'])
    n = len(classes)
    matrix = np.zeros((n, n), dtype=np.int64)
    load = LoadAnnotations()
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        path = osp.join(pred_dir, stem + '.png')
        if not osp.isfile(path):
            raise MissingFileError(
                f'{path!r} is missing (the prediction for {info["img_path"]!r}): give the --out folder of '
                f'tools/test.py on this config'
            )
        pred = np.asarray(Image.open(path)).astype(np.int64)
        if info.get('reduce_zero_label', False):
            pred = pred - 1  # IoUMetric wrote label + 1 so that the PNG reads as the dataset's label files
        gt = load(dict(info, seg_fields=[]))['gt_seg_map']
        if pred.shape != gt.shape:
            raise DataError(f'{path!r} is {pred.shape[1]}x{pred.shape[0]}, its label map {gt.shape[1]}x{gt.shape[0]}')
        if pred.size and (pred.min() < 0 or pred.max() >= n):
            raise DataError(f'{path!r} holds labels outside 0..{n - 1} ({n} classes): not a prediction of this config')
        matrix += pixel_confusion(gt, pred, n, dataset.ignore_index)
    return matrix, classes


def write_matrix(matrix: np.ndarray, labels: Sequence[str], out_dir: str) -> List[str]:
    """``confusion_matrix.csv`` (counts, rows = ground truth) and ``confusion_matrix.png`` (mmdet's plot)."""
    os.makedirs(out_dir, exist_ok=True)
    csv_file = osp.join(out_dir, 'confusion_matrix.csv')
    with open(csv_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['ground truth \\ predicted'] + list(labels))
        for label, row in zip(labels, matrix):
            writer.writerow([label] + [int(v) for v in row])
    tool = load_upstream_tool('mmdet', 'confusion_matrix')
    import matplotlib.pyplot as plt

    subplots = plt.subplots

    def at_least_5_inches(*args, figsize=(5, 4), **kwargs):
        # mmdet sizes the figure 0.5 inch a class (made for COCO's 80): at least 5 inches wide for a few classes
        scale = max(1.0, 5.0 / figsize[0])
        return subplots(*args, figsize=(figsize[0] * scale, figsize[1] * scale), **kwargs)

    with np.errstate(invalid='ignore', divide='ignore'), mock.patch.object(tool.plt, 'subplots', at_least_5_inches):
        # a class with no ground truth is a row of NaN, drawn as -1 %
        title = 'Normalized confusion matrix (%)'
        tool.plot_confusion_matrix(np.asarray(matrix, dtype=np.float64), list(labels), out_dir, False, title)
    plt.close('all')
    return [csv_file, osp.join(out_dir, 'confusion_matrix.png')]
