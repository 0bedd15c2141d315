"""What ``tools/train.py`` and ``tools/test.py`` do between the command line and mmengine's Runner.

The same code serves detection (``default_scope='mmdet'``), segmentation (``'mmseg'``) and
classification configs, following the options of mmdet's and mmseg's own ``tools/*.py``.
"""
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config

from .distributed import setup_distributed


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file and apply ``--cfg-options``; a missing file is an error naming it.

    Each option's key must exist in the config (or be an argument of the class its dict builds):
    :func:`convnext_dense.apis.preflight.check_cfg_options`.
    ``data_root=...`` among the options moves every dataset and evaluator path that started with the
    config's own ``data_root`` (:func:`convnext_dense.datasets.data_root.rebase_data_root`).
    """
    if not osp.isfile(path):
        here = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
        raise FileNotFoundError(f'config {path!r} does not exist. The configs are under '
                                f'{osp.join(here, "configs")}/{{detection,segmentation,classification}}/.')
    cfg = Config.fromfile(path)
    # A misspelt key is an error naming the nearest existing key; '+key=value' adds a new key.
    from .preflight import check_cfg_options
    cfg_options = check_cfg_options(cfg, cfg_options)
    if cfg_options:
        old_root = cfg.get('data_root')
        cfg.merge_from_dict(cfg_options)
        if 'data_root' in cfg_options and old_root and cfg.data_root != old_root:
            # The file resolved data_root into every dataset path when it was read; move them all.
            from ..datasets.data_root import rebase_data_root
            rebase_data_root(cfg, old_root, cfg.data_root)
    return cfg


def default_work_dir(config_path: str) -> str:
    """``work_dirs/<config name>``, as in mmdet and mmseg."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def apply_train_args(cfg: Config, args) -> Config:
    """Apply the options of ``tools/train.py`` (work dir, AMP, resume, seed, launcher) to ``cfg``."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(args.config)
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise RuntimeError('--amp needs a CUDA GPU (mmengine AmpOptimWrapper); none is visible. '
                               'Drop --amp to train in fp32 on the CPU.')
        if cfg.optim_wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume {args.resume!r}: no such checkpoint. Use --resume alone to '
                                    f'continue from the latest checkpoint in {cfg.work_dir}.')
        cfg.resume = True
        cfg.load_from = args.resume
    if args.seed is not None:
        cfg.randomness = dict(seed=args.seed, deterministic=args.deterministic)
    return setup_distributed(cfg)  # CPU-only multi-process runs: gloo, DDP without device_ids, SyncBN


def apply_test_args(cfg: Config, args) -> Config:
    """Apply the options of ``tools/test.py`` (checkpoint, work dir, TTA, results and drawings)."""
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint!r} does not exist; pass the .pth written by '
                                f'tools/train.py (work_dirs/<config>/epoch_N.pth or iter_N.pth)')
    cfg.launcher = args.launcher
    cfg.load_from = args.checkpoint
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(args.config)
    scope = cfg.get('default_scope')
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ValueError(f'{args.config} defines no tta_model/tta_pipeline, so --tta cannot be used')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise ValueError(f'{args.config} has no default_hooks.visualization, so --show-dir cannot draw')
        hook.draw = True
        hook.interval = 1
        if scope == 'mmdet':
            hook.test_out_dir = osp.abspath(args.show_dir)
        else:
            cfg.visualizer.save_dir = osp.abspath(args.show_dir)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)) or '.', exist_ok=True)
        if scope == 'mmdet':
            cfg.test_evaluator = _as_list(cfg.test_evaluator) + [
                dict(type='DumpDetResults', out_file_path=args.out)]
        elif scope == 'mmseg':
            # mmseg's IoUMetric writes one PNG mask per image into output_dir and still evaluates.
            cfg.test_evaluator.output_dir = args.out
        else:
            cfg.test_evaluator = _as_list(cfg.test_evaluator) + [
                dict(type='DumpResults', out_file_path=args.out)]
    return setup_distributed(cfg)


def _as_list(evaluator):
    return list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]
