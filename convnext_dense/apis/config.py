"""What ``tools/train.py`` and ``tools/test.py`` do between the command line and mmengine's Runner.

The same code serves detection (``default_scope='mmdet'``), segmentation (``'mmseg'``) and
classification configs, following the options of mmdet's and mmseg's own ``tools/*.py``.

``--cfg-options data_root=...`` must reach the datasets and evaluators of a config. An mmengine config
resolves ``data_root + 'annotations/...'`` and ``data_root=data_root`` when the file is read, so
overriding the top-level ``data_root`` afterwards changes that variable only: the dataloaders would
still read the old folder. :func:`rebase_data_root` rewrites every ``data_root`` field and every path
that starts with the old root under the dataloaders, evaluators and TTA pipeline, for detection
(mmdet) and segmentation (mmseg) configs alike; :func:`load_config` calls it.

Example:
    >>> from convnext_dense.apis import load_config
    >>> cfg = load_config('configs/detection/cascade_convnext_t_3x.py', {'data_root': '/datasets/coco/'})
    >>> cfg.val_evaluator.ann_file
    '/datasets/coco/annotations/instances_val2017.json'
"""

import os
import os.path as osp
from typing import Any, List, Optional

from mmengine.config import Config

from ..errors import ConfigError, DeviceError, MissingFileError
from .cfg_options import check_cfg_options


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file and apply ``--cfg-options``; a missing file is an error naming it.

    Each option's key must exist in the config (or be an argument of the class its dict builds):
    :func:`convnext_dense.apis.cfg_options.check_cfg_options`.
    ``data_root=...`` among the options moves every dataset and evaluator path that started with the
    config's own ``data_root`` (:func:`rebase_data_root`).
    """
    if not osp.isfile(path):
        here = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
        raise MissingFileError(
            f'config {path!r} does not exist. The configs are under '
            f'{osp.join(here, "configs")}/{{detection,segmentation,classification}}/.'
        )
    cfg = Config.fromfile(path)
    # A misspelt key is an error naming the nearest existing key; '+key=value' adds a new key.
    cfg_options = check_cfg_options(cfg, cfg_options)
    if cfg_options:
        old_root = cfg.get('data_root')
        cfg.merge_from_dict(cfg_options)
        if 'data_root' in cfg_options and old_root and cfg.data_root != old_root:
            # The file resolved data_root into every dataset path when it was read; move them all.
            rebase_data_root(cfg, old_root, cfg.data_root)
    return cfg


def default_work_dir(config_path: str) -> str:
    """``work_dirs/<config name>``, as in mmdet and mmseg."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def add_launcher_args(parser) -> None:
    """``--launcher`` and ``--local_rank`` / ``--local-rank`` (what ``torch.distributed.launch`` passes;
    torchrun sets ``LOCAL_RANK`` instead), as in mmdet's and mmseg's tools."""
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher (tools/dist_*.sh set pytorch, tools/slurm_*.sh slurm)',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def _apply_common_args(cfg: Config, args) -> None:
    """The launcher, the local rank and the work dir: the options tools/train.py and tools/test.py share."""
    if 'LOCAL_RANK' not in os.environ:  # torch.distributed.launch passes --local_rank instead
        os.environ['LOCAL_RANK'] = str(getattr(args, 'local_rank', 0))
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(args.config)


def apply_train_args(cfg: Config, args) -> Config:
    """Apply the options of ``tools/train.py`` (work dir, AMP, resume, seed, launcher) to ``cfg``."""
    _apply_common_args(cfg, args)
    if args.amp:
        import torch

        if not torch.cuda.is_available():
            raise DeviceError(
                '--amp needs a CUDA GPU (mmengine AmpOptimWrapper); none is visible. '
                'Drop --amp to train in fp32 on the CPU.'
            )
        if cfg.optim_wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise MissingFileError(
                f'--resume {args.resume!r}: no such checkpoint. Use --resume alone to '
                f'continue from the latest checkpoint in {cfg.work_dir}.'
            )
        cfg.resume = True
        cfg.load_from = args.resume
    if args.seed is not None:
        cfg.randomness = dict(seed=args.seed, deterministic=args.deterministic)
    return cfg


def apply_test_args(cfg: Config, args) -> Config:
    """Apply the options of ``tools/test.py`` (checkpoint, work dir, TTA, results and drawings)."""
    if not osp.isfile(args.checkpoint):
        raise MissingFileError(
            f'checkpoint {args.checkpoint!r} does not exist; pass the .pth written by '
            f'tools/train.py (work_dirs/<config>/epoch_N.pth or iter_N.pth)'
        )
    _apply_common_args(cfg, args)
    cfg.load_from = args.checkpoint
    scope = cfg.get('default_scope')
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ConfigError(f'{args.config} defines no tta_model/tta_pipeline, so --tta cannot be used')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise ConfigError(f'{args.config} has no default_hooks.visualization, so --show-dir cannot draw')
        hook.draw = True
        hook.interval = 1
        if scope == 'mmdet':
            hook.test_out_dir = osp.abspath(args.show_dir)
        else:
            cfg.visualizer.save_dir = osp.abspath(args.show_dir)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)) or '.', exist_ok=True)
        if scope == 'mmdet':
            cfg.test_evaluator = _as_list(cfg.test_evaluator) + [dict(type='DumpDetResults', out_file_path=args.out)]
        elif scope == 'mmseg':
            # mmseg's IoUMetric writes one PNG mask per image into output_dir and still evaluates.
            cfg.test_evaluator.output_dir = args.out
        else:
            cfg.test_evaluator = _as_list(cfg.test_evaluator) + [dict(type='DumpResults', out_file_path=args.out)]
    return cfg


def _as_list(evaluator):
    return list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]


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
        return new_root + value[len(old_root) :]
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
        raise ConfigError(f'data_root={new_root!r}: give a folder path, e.g. --cfg-options data_root=/data/coco/')
    if old_root and old_root.endswith('/') and not new_root.endswith('/'):
        new_root += '/'  # the configs join data_root + 'annotations/...'
    changed, seen = [0], set()
    for section in _SECTIONS:
        if section in cfg:
            _rebase(cfg[section], old_root, new_root, changed, seen)
    return changed[0]
