"""The ground truth as the model is fed it: training samples after the pipeline's transforms, drawn to images.

Detection and segmentation follow mmdet's and mmseg's ``.mim/tools/analysis_tools/browse_dataset.py``: each
item of the built training set (the pipeline's flips, resizes and crops applied) is handed to the config's
own visualizer (``DetLocalVisualizer``: boxes, masks and class names; ``SegLocalVisualizer``: the label map
in the dataset's palette) with ``draw_pred=False``. Those scripts are ``main()`` functions that draw every
image of the set and show windows; the loop is repeated here with ``max_images`` and a file for each image.
Classification (this project's :class:`~convnext_dense.datasets.ImageFolderDataset`, timm's transforms) has
no counterpart upstream: the image is drawn with its class name by mmengine's ``Visualizer``. The batch-level
augmentations of a data preprocessor (Mixup/CutMix, random erasing) are not part of the dataset and are not
drawn.
"""

import os
import os.path as osp
import time
from typing import List

import numpy as np

__all__ = ['browse_dataset']


def _draw_det(visualizer, item, out_file: str) -> None:
    from mmdet.models.utils import mask2ndarray
    from mmdet.structures.bbox import BaseBoxes

    image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]  # the pipeline's BGR to RGB
    sample = item['data_samples'].numpy()
    gt = sample.gt_instances
    if isinstance(gt.get('bboxes', None), BaseBoxes):
        gt.bboxes = gt.bboxes.tensor
    if gt.get('masks', None) is not None:
        gt.masks = mask2ndarray(gt.masks).astype(bool)
    sample.gt_instances = gt
    visualizer.add_datasample('gt', np.ascontiguousarray(image), sample, draw_pred=False, out_file=out_file)


def _draw_seg(visualizer, item, out_file: str) -> None:
    image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]
    sample = item['data_samples'].numpy()
    visualizer.add_datasample('gt', np.ascontiguousarray(image), sample, draw_pred=False, out_file=out_file)


def _draw_cls(visualizer, item, classes, out_file: str) -> None:
    import mmcv

    # uint8 RGB: timm's transforms in their prefetcher form (normalisation happens in the data preprocessor)
    image = np.ascontiguousarray(item['inputs'].permute(1, 2, 0).numpy().astype(np.uint8))
    label = int(item['data_samples'].gt_label)
    visualizer.set_image(image)
    visualizer.draw_texts(f'{label}: {classes[label]}', np.array([2, 2]), font_sizes=8, colors='white')
    mmcv.imwrite(visualizer.get_image()[..., ::-1], out_file)


def browse_dataset(cfg, out_dir: str, max_images: int = 20, split: str = 'train') -> List[str]:
    """Draw the first ``max_images`` samples of ``cfg.<split>_dataloader.dataset`` into ``out_dir``.

    Args:
        cfg: a detection (mmdet), segmentation (mmseg) or classification config.
        out_dir: where the images go (``0000_<image name>``, ...).
        max_images: how many samples (from the first, in the dataset's order; the pipeline's random
            transforms draw anew each time).
        split: ``'train'`` (what the model learns from) or ``'val'`` / ``'test'``.

    Returns:
        The files written.
    """
    import importlib

    from mmengine.registry import init_default_scope

    scope = cfg.get('default_scope') or 'mmengine'
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry')
    dataset = registry.DATASETS.build(cfg[f'{split}_dataloader'].dataset)
    vis_cfg = cfg.visualizer.copy()
    vis_cfg['name'] = f'browse_dataset_{time.time_ns()}'  # mmengine keeps one instance a name
    vis_cfg['vis_backends'] = None  # files are written here, not by a backend into a work dir
    visualizer = registry.VISUALIZERS.build(vis_cfg)
    visualizer.dataset_meta = dataset.metainfo
    classes = dataset.metainfo.get('classes')
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for i in range(min(max_images, len(dataset))):
        item = dataset[i]
        name = osp.basename(item['data_samples'].img_path)
        out_file = osp.join(out_dir, f'{i:04d}_{osp.splitext(name)[0]}.png')
        if scope == 'mmdet':
            _draw_det(visualizer, item, out_file)
        elif scope == 'mmseg':
            _draw_seg(visualizer, item, out_file)
        else:
            _draw_cls(visualizer, item, classes, out_file)
        written.append(out_file)
    return written
