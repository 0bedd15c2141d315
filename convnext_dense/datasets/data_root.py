"""Make ``--cfg-options data_root=...`` reach the datasets and evaluators of a config.

An mmengine config resolves ``data_root + 'annotations/...'`` and ``data_root=data_root`` when the
file is read, so overriding the top-level ``data_root`` afterwards changes that variable only: the
dataloaders would still read the old folder. :func:`rebase_data_root` rewrites every
``data_root`` field and every path that starts with the old root under the dataloaders, evaluators
and TTA pipeline, for detection (mmdet) and segmentation (mmseg) configs alike.

Example:
    >>> cfg = Config.fromfile('configs/detection/cascade_convnext_t_3x.py')
    >>> old = cfg.data_root
    >>> cfg.merge_from_dict({'data_root': '/datasets/coco/'})
    >>> rebase_data_root(cfg, old, cfg.data_root)
    >>> cfg.val_evaluator.ann_file
    '/datasets/coco/annotations/instances_val2017.json'
"""
from typing import Any, List

_SECTIONS = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator')


def _rebase(value: Any, old_root: str, new_root: str, changed: List[int], seen: set) -> Any:
    if isinstance(value, (dict, list)):
        if id(value) in seen:  # `test_dataloader = val_dataloader` may share one object
            return value
        seen.add(id(value))
        keys = list(value) if isinstance(value, dict) else range(len(value))
        for key in keys:
            value[key] = _rebase(value[key], old_root, new_root, changed, seen)
        return value
    if isinstance(value, tuple):
        return tuple(_rebase(v, old_root, new_root, changed, seen) for v in value)
    if isinstance(value, str) and old_root and value.startswith(old_root):
        changed[0] += 1
        return new_root + value[len(old_root):]
    return value


def rebase_data_root(cfg, old_root: str, new_root: str) -> int:
    """Replace ``old_root`` by ``new_root`` at the start of every path in the data sections of ``cfg``.

    Args:
        cfg: an ``mmengine.Config`` (changed in place).
        old_root: the ``data_root`` the config file was written with.
        new_root: the one to use.

    Returns:
        How many values were changed (0: the config does not use ``old_root``).
    """
    if not isinstance(new_root, str) or not new_root:
        raise ValueError(f'data_root={new_root!r}: give a folder path, e.g. --cfg-options data_root=/data/coco/')
    if old_root and old_root.endswith('/') and not new_root.endswith('/'):
        new_root += '/'  # the configs join data_root + 'annotations/...'
    changed, seen = [0], set()
    for section in _SECTIONS:
        if section in cfg:
            _rebase(cfg[section], old_root, new_root, changed, seen)
    return changed[0]
