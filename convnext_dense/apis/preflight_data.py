"""The preflight's look into the data: the config's class names against the annotation file, label values against
the classes.

:func:`check_classes_against_data` reads a COCO annotation file's categories (files up to
``MAX_JSON_BYTES``; a larger one is checked when the dataset is built, by
:class:`~convnext_dense.datasets.CheckedCocoDataset`) and decodes the first few label maps of a segmentation
dataset, so a template config with the wrong names or a class count that does not fit the labels stops before
the Runner builds anything, with the fix. The datasets check every file again when they load it.
"""

import json
import os
import os.path as osp
from typing import Iterator, List, Optional, Tuple

import numpy as np

MAX_JSON_BYTES = 64 * 2**20
LABEL_SAMPLES = 3


def check_classes_against_data(cfg, mode: str) -> List[Tuple[str, str]]:
    """``[('classes', text), ...]``: the problems of each dataset of the run (train and val, or test)."""
    problems = []
    for key, ds in _leaf_datasets(cfg, mode):
        classes = (ds.get('metainfo') or {}).get('classes') if isinstance(ds.get('metainfo'), dict) else None
        if not classes:
            continue
        ann = _join(ds, ds.get('ann_file'))
        prefix = ds.get('data_prefix') if isinstance(ds.get('data_prefix'), dict) else {}
        if ann and ann.endswith('.json') and osp.isfile(ann):
            problem = _coco_problem(key, ann, tuple(classes))
        elif isinstance(prefix.get('seg_map_path'), str):
            problem = _label_problem(key, ds, _join(ds, prefix['seg_map_path']), len(classes))
        else:
            problem = None
        if problem and ('classes', problem) not in problems:
            problems.append(('classes', problem))
    return problems


def _leaf_datasets(cfg, mode: str) -> Iterator[Tuple[str, dict]]:
    for section in ('train', 'val') if mode == 'train' else ('test',):
        loader = cfg.get(f'{section}_dataloader')
        ds = loader.get('dataset') if isinstance(loader, dict) else None
        while isinstance(ds, dict) and isinstance(ds.get('dataset'), dict):  # RepeatDataset, ClassBalancedDataset
            ds = ds['dataset']
        if isinstance(ds, dict) and ds.get('backend_args') is None:
            yield f'{section}_dataloader.dataset', ds


def _join(ds: dict, path) -> Optional[str]:
    if not isinstance(path, str) or not path:
        return None
    root = ds.get('data_root') or ''
    return path if (not root or osp.isabs(path)) else osp.join(root, path)


def _coco_problem(key: str, ann_file: str, classes: tuple) -> Optional[str]:
    if osp.getsize(ann_file) > MAX_JSON_BYTES:
        return None
    try:
        with open(ann_file) as f:
            names = [c['name'] for c in json.load(f)['categories']]
    except (ValueError, KeyError, TypeError):
        return None  # a broken file: the dataset names what is wrong with it
    missing = [c for c in classes if c not in names]
    in_file_order = tuple(n for n in names if n in classes)
    if not missing and in_file_order == classes:
        return None
    what = f'{missing} are not among them' if missing else 'are listed in another order'
    return (
        f'{key}.metainfo.classes={classes}, but {ann_file} has the categories {tuple(names)}: the classes {what}. '
        f"Set classes to the file's names, in the file's order (in a template config: classes = "
        f'{in_file_order if in_file_order else tuple(names)}); the heads follow from it.'
    )


def _label_problem(key: str, ds: dict, folder: Optional[str], num_classes: int) -> Optional[str]:
    from PIL import Image

    if not folder or not osp.isdir(folder):
        return None
    suffix = ds.get('seg_map_suffix', '.png')
    files = sorted(f for f in os.listdir(folder) if f.endswith(suffix))[:LABEL_SAMPLES]
    reduce_zero_label = bool(ds.get('reduce_zero_label', False))
    ignore_index = ds.get('ignore_index', 255)
    valid_max = num_classes if reduce_zero_label else num_classes - 1
    for name in files:
        path = osp.join(folder, name)
        try:
            with Image.open(path) as img:
                values = np.unique(np.asarray(img))
        except (OSError, ValueError):
            return None  # an undecodable file: the dataset names it when it loads it
        bad = values[(values > valid_max) & (values != ignore_index)]
        if bad.size:
            convention = (
                f'0 = unlabelled and 1..{num_classes} = the classes (reduce_zero_label=True)'
                if reduce_zero_label
                else f'0..{num_classes - 1} = the classes (reduce_zero_label=False)'
            )
            return (
                f'{key}: the label map {path} holds the values {bad.tolist()[:10]}, outside the {num_classes} classes '
                f'of the config ({convention}; {ignore_index} = ignored). Give every class a name in classes, or '
                f'set reduce_zero_label / ignore_index to what the files hold.'
            )
    return None
