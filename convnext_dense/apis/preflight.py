"""Check a config against this machine before mmengine's Runner is built, and report every problem at once.

mmengine builds the parts of a run lazily and checks little: a missing dataset shows up as a
traceback from a dataloader build, missing ImageNet weights after the model is built, mixed
precision on a CPU as an ``AssertionError`` from ``AmpOptimWrapper``. :func:`preflight` finds those
mistakes first and names the file, key or value and the fix: the data folders and annotation files
the dataloaders and evaluators name, the ImageNet weights (``init_cfg``) and ``load_from``, mixed
precision without a GPU, the heads' ``num_classes`` against the dataset's classes, the backbone's
declared output channels against the neck's or heads' ``in_channels``, and whether the work dir can
be written. All problems are reported together in one :class:`PreflightError`, with where the data
go, how to get the weights and which CPU demo runs here.

The mistakes and their messages are listed in ``docs/errors.md``.
"""

import importlib
import logging
import os
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.logging import print_log

from .. import hf_hub
from ..errors import ConfigError, UserError
from ..utils import is_remote, shorten
from .cfg_options import resolve_type
from .cli import user_error_message
from .preflight_data import check_classes_against_data

__all__ = ['PreflightError', 'declared_out_channels', 'preflight']

# How to get each task's data, and the CPU demo that runs without it.
_DATA_HINTS = {
    'mmdet': (
        'COCO 2017 goes in data/coco/annotations/instances_train2017.json, data/coco/annotations/'
        'instances_val2017.json, data/coco/train2017/ and data/coco/val2017/ '
        '(https://cocodataset.org/#download); or point the config at your copy: '
        '--cfg-options data_root=/path/to/coco/'
    ),
    'mmseg': (
        'ADE20K goes in data/ade/ADEChallengeData2016/images/{training,validation}/*.jpg and '
        'data/ade/ADEChallengeData2016/annotations/{training,validation}/*.png (unzip ADEChallengeData2016.zip '
        'from http://sceneparsing.csail.mit.edu under data/ade/); or point the config at your copy: '
        '--cfg-options data_root=/path/to/ADEChallengeData2016'
    ),
    'mmengine': (
        'ImageNet goes in data/imagenet/train/<class>/*.JPEG and data/imagenet/val/<class>/*.JPEG (one '
        'folder per class, val sorted into class folders too); or point the config at your copy: '
        '--cfg-options data_root=/path/to/imagenet'
    ),
}
_DEMO_DATA = {
    'mmdet': 'python tools/make_demo_data.py coco --out data/synthetic_coco',
    'mmseg': 'python tools/make_demo_data.py ade --out data/synthetic_ade',
    'mmengine': 'python tools/make_demo_data.py cls --out data/synthetic_cls',
}
_DEMOS = {
    'mmdet': ('make demo', 'Cascade Mask R-CNN on synthetic COCO-format data, about 10 minutes'),
    'mmseg': ('make demo-seg', 'UperNet on synthetic ADE20K-format data, about 6 minutes'),
    'mmengine': ('make demo-cls', 'classification on a synthetic image folder, about 3 minutes'),
}


class PreflightError(ConfigError):
    """The problems that stop a config from running, each with its fix.

    Attributes:
        problems: ``[(topic, text), ...]``, e.g. ``('data', 'data/coco/train2017/ does not exist ...')``.
    """

    traceback_hint = False  # the message is the whole report

    def __init__(self, message: str, problems: Sequence[Tuple[str, str]] = ()):
        super().__init__(message)
        self.problems = list(problems)


def preflight(cfg, config_path: str, mode: str = 'train') -> List[str]:
    """Check that ``cfg`` can run here before the Runner is built; raise one error listing every problem.

    Args:
        cfg: the config with the command-line options applied.
        config_path: the config file, for the messages.
        mode: ``'train'`` (train and val data, weights, AMP) or ``'test'`` (test data).

    Returns:
        Notes that do not stop the run (they are also logged), e.g. weights that will be downloaded.

    Raises:
        PreflightError: the problems found (missing data, missing weights, AMP without a GPU, a
            class count or backbone size that does not fit the heads, an unwritable work dir).
    """
    if mode not in ('train', 'test'):
        raise ValueError(f"preflight: mode must be 'train' or 'test', got {mode!r}")
    scope = cfg.get('default_scope') or 'mmengine'
    problems: List[Tuple[str, str]] = []
    notes: List[str] = []
    problems += _check_data(cfg, mode, scope, demo='/demo/' in config_path.replace(os.sep, '/'))
    if mode == 'train':
        weight_problems, weight_notes = _check_weights(cfg, config_path)
        problems += weight_problems
        notes += weight_notes
        device_problems, device_notes = _check_device(cfg)
        problems += device_problems
        notes += device_notes
    problems += _check_backbone(cfg, scope)
    problems += _check_num_classes(cfg, mode, scope)
    problems += check_classes_against_data(cfg, mode)  # names against the annotation file, labels against classes
    problems += _check_work_dir(cfg)
    if problems:
        demo, what = _DEMOS.get(scope, _DEMOS['mmdet'])
        topics = sorted({topic for topic, _ in problems}, key=[t for t, _ in problems].index)
        lines = [
            f'{config_path} cannot {mode} here: {len(problems)} problem{"s" if len(problems) > 1 else ""} '
            f'({", ".join(topics)}).'
        ]
        lines += [f'  {topic}: {text}' for topic, text in problems]
        lines += [f'  (note) {note}' for note in notes if note.startswith('weights:')]
        lines.append(f'To see the whole pipeline run on this machine first: `{demo}` ({what}, CPU, no downloads).')
        raise PreflightError('\n'.join(lines), problems)
    for note in notes:
        print_log(f'preflight: {note}', logger='current', level=logging.WARNING)
    return notes


def _datasets(cfg_dataset: Any) -> Iterator[dict]:
    """The leaf dataset dicts of a dataset config (through Concat/Repeat/ClassBalanced wrappers)."""
    if isinstance(cfg_dataset, (list, tuple)):
        for d in cfg_dataset:
            yield from _datasets(d)
    elif isinstance(cfg_dataset, dict):
        if 'datasets' in cfg_dataset:
            yield from _datasets(cfg_dataset['datasets'])
        elif 'dataset' in cfg_dataset:
            yield from _datasets(cfg_dataset['dataset'])
        else:
            yield cfg_dataset


def _dataset_paths(ds: dict) -> List[Tuple[str, str, str]]:
    """``[(what, path, 'file'|'dir')]`` a dataset config reads, joined as mmengine's BaseDataset joins them."""
    root = ds.get('data_root') or ''

    def join(p):
        return p if (not root or osp.isabs(p) or is_remote(p)) else osp.join(root, p)

    out = []
    if root:
        out.append(('data_root', root, 'dir'))
    ann = ds.get('ann_file')
    if isinstance(ann, str) and ann:
        out.append(('ann_file', join(ann), 'file'))
    prefix = ds.get('data_prefix')
    if isinstance(prefix, dict):
        for key, value in prefix.items():
            if isinstance(value, str) and value:
                out.append((f'data_prefix.{key}', join(value), 'dir'))
    if isinstance(ds.get('split'), str) and str(ds.get('type', '')).endswith('ImageFolderDataset'):
        out.append(('split', join(ds['split']), 'dir'))
    return out


def _check_data(cfg, mode: str, scope: str, demo: bool = False) -> List[Tuple[str, str]]:
    sections = ['train'] if mode == 'train' else ['test']
    if mode == 'train' and cfg.get('val_cfg') is not None and cfg.get('val_evaluator') is not None:
        sections.append('val')
    missing: Dict[str, str] = {}  # path -> which config key names it
    for section in sections:
        loader = cfg.get(f'{section}_dataloader')
        if not isinstance(loader, dict):
            continue
        for ds in _datasets(loader.get('dataset')):
            if ds.get('backend_args') is not None:
                continue  # a remote or custom file backend: reading it is the backend's business
            for what, path, kind in _dataset_paths(ds):
                if is_remote(path) or path in missing or _under(path, missing):
                    continue  # reported already, or its data_root is missing (said once)
                if not (osp.isdir(path) if kind == 'dir' else osp.isfile(path)):
                    missing[path] = f'{section}_dataloader.dataset.{what}'
        evaluators = cfg.get(f'{section}_evaluator')
        for ev in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
            ann = ev.get('ann_file') if isinstance(ev, dict) else None
            if (
                isinstance(ann, str)
                and ann
                and not is_remote(ann)
                and not osp.isfile(ann)
                and ann not in missing
                and not _under(ann, missing)
            ):
                missing[ann] = f'{section}_evaluator.ann_file'
    if not missing:
        return []
    listed = '; '.join(f'{path} ({key})' for path, key in list(missing.items())[:6])
    more = f' and {len(missing) - 6} more' if len(missing) > 6 else ''
    hint = (
        f'The demo data are made by `{_DEMO_DATA.get(scope, _DEMO_DATA["mmdet"])}` (the make targets run it); '
        f'or point the config at them: --cfg-options data_root=PATH'
        if demo
        else _DATA_HINTS.get(scope, _DATA_HINTS['mmdet'])
    )
    return [('data', f'not found: {listed}{more}. {hint}.')]


def _under(path: str, folders) -> bool:
    return any(osp.normpath(path).startswith(osp.normpath(f) + os.sep) for f in folders)


def _pretrained_cfgs(node: Any, path: str) -> Iterator[Tuple[str, dict]]:
    if isinstance(node, dict):
        init = node.get('init_cfg')
        for i, item in enumerate(init if isinstance(init, (list, tuple)) else [init]):
            if isinstance(item, dict) and item.get('type') == 'Pretrained' and isinstance(item.get('checkpoint'), str):
                yield (f'{path}.init_cfg' + (f'.{i}' if isinstance(init, (list, tuple)) else '')), item
        for key, value in node.items():
            if key != 'init_cfg':
                yield from _pretrained_cfgs(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _pretrained_cfgs(value, f'{path}.{i}')


def _check_weights(cfg, config_path: str) -> Tuple[List[Tuple[str, str]], List[str]]:
    problems, notes = [], []
    for key, init in _pretrained_cfgs(cfg.get('model'), 'model'):
        ckpt = init['checkpoint']
        if hf_hub.is_hub_name(ckpt):
            found, note = _check_hub_name(ckpt, key, config_path)
            problems += found
            notes += [note] if note else []
        elif is_remote(ckpt):
            if not _url_is_cached(ckpt):
                from ..hub import cached_path

                notes.append(
                    f'weights: {ckpt} ({key}.checkpoint) is not downloaded yet: it downloads on first use '
                    f'when online, into {cached_path(ckpt)}; offline, fetch it on a machine that is online '
                    f'with `python tools/download_weights.py {config_path}` and copy it there, or point '
                    f'the config at a file you have: --cfg-options {key}.checkpoint=PATH.'
                )
        elif not osp.exists(ckpt):  # a file, or a folder that save_pretrained wrote
            problems.append(
                (
                    'weights',
                    f'the ImageNet weights {ckpt} ({key}.checkpoint) do not exist. Get them with `python '
                    f'tools/download_weights.py {config_path}` (with a release URL as {key}.checkpoint they also '
                    f'download on first use when online), or point the config at a file you have: --cfg-options '
                    f"{key}.checkpoint=PATH (official, timm, mmpretrain or this project's checkpoints), or train from "
                    f'random weights: --cfg-options {key}=None.',
                )
            )
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and not is_remote(load_from) and not osp.isfile(load_from):
        problems.append(
            (
                'weights',
                f'load_from={load_from!r} does not exist: give the path of a checkpoint of this '
                f'model (--cfg-options load_from=PATH) or drop it (load_from=None).',
            )
        )
    return problems, notes


def _check_hub_name(name: str, key: str, config_path: str) -> Tuple[List[Tuple[str, str]], Optional[str]]:
    """A ``timm:`` / ``hf-hub:`` checkpoint: a name timm does not know is a problem; one not yet in the
    Hugging Face cache is a note that says which file it means (resolved offline, nothing downloaded)."""
    try:
        weights = hf_hub.resolve(name)
    except UserError as e:
        return [('weights', f'{key}.checkpoint: {user_error_message(e)}')], None
    if hf_hub.cached(weights):
        return [], None
    return [], (
        f'weights: {weights.describe()} ({key}.checkpoint) is not downloaded yet: it downloads on first use when '
        f'online, into the Hugging Face cache ($HF_HOME); offline, fetch it on a machine that is online with '
        f'`python tools/download_weights.py {config_path}` and copy the cache over, or point the config at a '
        f'file you have: --cfg-options {key}.checkpoint=PATH.'
    )


def _url_is_cached(url: str) -> bool:
    """Whether torch hub's cache (where :mod:`convnext_dense.hub` downloads to) holds ``url``."""
    from ..hub import cached_path

    return osp.isfile(cached_path(url))


def _check_device(cfg) -> Tuple[List[Tuple[str, str]], List[str]]:
    import torch

    problems, notes = [], []
    wrapper = cfg.get('optim_wrapper')
    if (
        isinstance(wrapper, dict)
        and str(wrapper.get('type', '')).split('.')[-1] == 'AmpOptimWrapper'
        and not torch.cuda.is_available()
    ):
        problems.append(
            (
                'device',
                "optim_wrapper.type='AmpOptimWrapper' (mixed precision, as the paper's configs are released) "
                'needs a CUDA GPU and none is visible. Train in fp32 with --cfg-options '
                "optim_wrapper.type=OptimWrapper (slow: the paper's configs are sized for 8 GPUs), or use a "
                'demo config (configs/*/demo/) made for the CPU.',
            )
        )
    if cfg.get('launcher', 'none') == 'none':
        total = _train_batch(cfg)
        scale = cfg.get('auto_scale_lr')
        if (
            total
            and isinstance(scale, dict)
            and scale.get('base_batch_size')
            and not scale.get('enable', False)
            and scale['base_batch_size'] != total
        ):
            sync_bn = (
                ' SyncBN layers become BatchNorm in a single process (mmengine reverts them).'
                if 'SyncBN' in str(cfg.get('model'))
                else ''
            )
            notes.append(
                f'the learning rate of this config is set for a total batch of {scale["base_batch_size"]} '
                f'images (auto_scale_lr.base_batch_size, e.g. 8 GPUs); this single process trains on '
                f'{total}. Add --cfg-options auto_scale_lr.enable=True to scale the lr linearly, or '
                f'launch on the GPUs with tools/dist_train.sh.{sync_bn}'
            )
    return problems, notes


def _train_batch(cfg) -> Optional[int]:
    loader = cfg.get('train_dataloader')
    return loader.get('batch_size') if isinstance(loader, dict) else None


def _check_backbone(cfg, scope: str) -> List[Tuple[str, str]]:
    """The backbone builds, and the channels it declares are what the neck and heads expect.

    The backbone is built on the meta device (no memory, no weights loaded), so its own argument
    checks run (an unknown size, ``out_indices`` out of range) and the channels come from the backbone
    itself (:func:`declared_out_channels`), for any backbone that declares them.
    """
    model = cfg.get('model')
    backbone_cfg = model.get('backbone') if isinstance(model, dict) else None
    if not isinstance(backbone_cfg, dict) or 'type' not in backbone_cfg:
        return []
    try:
        backbone = _build_without_weights(backbone_cfg, scope)
    except UserError as e:
        return [('model', f'model.backbone: {user_error_message(e)}')]
    except Exception:  # noqa: BLE001 (not a user mistake: the Runner builds it again and shows the traceback)
        return []
    outs = declared_out_channels(backbone)
    if outs is None:
        return []
    arch = backbone_cfg.get('arch')
    name = type(backbone).__name__ + (f' arch {arch if isinstance(arch, str) else "custom"!r}' if arch else '')
    problems = []
    neck = model.get('neck')
    for key, part in (
        ('model.neck', neck if isinstance(neck, dict) else None),
        ('model.decode_head', model.get('decode_head')),
        ('model.auxiliary_head', model.get('auxiliary_head')),
    ):
        if not isinstance(part, dict) or 'in_channels' not in part:
            continue
        # a neck, and a head with a list of in_channels but no in_index (Mask2Former), read every output
        reads_all = key == 'model.neck' or isinstance(part['in_channels'], (list, tuple))
        index = part.get('in_index', list(range(len(outs))) if reads_all else None)
        try:
            if isinstance(index, (list, tuple)):
                want = [outs[j] for j in index]
            else:
                want = outs[index] if isinstance(index, int) else None
        except IndexError:
            continue
        have = part['in_channels']
        have = list(have) if isinstance(have, (list, tuple)) else have
        if want is not None and have != want:
            shown = str(want).replace(' ', '')
            problems.append(
                (
                    'model',
                    f'{key}.in_channels={have} but {name} gives {want} there: use the config written for this '
                    f'size, or --cfg-options {key}.in_channels={shown}.',
                )
            )
    return problems


def _build_without_weights(backbone_cfg: dict, scope: str):
    """Build a backbone config on the meta device (on the CPU if it cannot be built there), no weights loaded."""
    import torch

    registry = importlib.import_module(f'{scope}.registry').MODELS
    backbone_cfg = {k: v for k, v in backbone_cfg.items() if k != 'init_cfg'}
    try:
        with torch.device('meta'):
            return registry.build(backbone_cfg)
    except UserError:
        raise
    except Exception:  # noqa: BLE001 (e.g. .item() on a meta tensor in a constructor): build it for real
        return registry.build(backbone_cfg)


def declared_out_channels(backbone) -> Optional[Tuple[int, ...]]:
    """The channels of the maps a backbone returns, as the backbone declares them; None if it declares none.

    ``out_channels`` (this project's backbones), timm's ``feature_info`` (a list of dicts with
    ``num_chs``, or a ``FeatureInfo``), or ``num_features`` per stage picked by ``out_indices`` (mmdet's
    and mmseg's Swin).
    """
    out = getattr(backbone, 'out_channels', None)
    if isinstance(out, (list, tuple)):
        return tuple(out)
    info = getattr(backbone, 'feature_info', None)
    if isinstance(info, (list, tuple)) and info and all(isinstance(i, dict) and 'num_chs' in i for i in info):
        return tuple(i['num_chs'] for i in info)
    if callable(getattr(info, 'channels', None)):
        return tuple(info.channels())
    num_features, out_indices = getattr(backbone, 'num_features', None), getattr(backbone, 'out_indices', None)
    if isinstance(num_features, (list, tuple)) and isinstance(out_indices, (list, tuple)):
        return tuple(num_features[i] for i in out_indices)
    return None


def _dataset_classes(ds: dict, scope: str) -> Optional[Tuple[str, ...]]:
    meta = ds.get('metainfo')
    if isinstance(meta, dict) and meta.get('classes') is not None:
        return tuple(meta['classes'])
    if ds.get('classes') is not None:
        return tuple(ds['classes'])
    if str(ds.get('type', '')).endswith('ImageFolderDataset'):
        folder = osp.join(ds.get('data_root') or '', ds.get('split', 'train'))
        if osp.isdir(folder):
            return tuple(sorted(e.name for e in os.scandir(folder) if e.is_dir()))
        return None
    cls = resolve_type(ds.get('type'), scope) if ds.get('type') else None
    classes = getattr(cls, 'METAINFO', {}).get('classes') if cls is not None else None
    return tuple(classes) if classes else None


def _heads(model: dict) -> Iterator[Tuple[str, dict]]:
    roi = model.get('roi_head') if isinstance(model.get('roi_head'), dict) else {}
    for key, part in (
        ('model.roi_head.bbox_head', roi.get('bbox_head')),
        ('model.roi_head.mask_head', roi.get('mask_head')),
        ('model.bbox_head', model.get('bbox_head')),
        ('model.decode_head', model.get('decode_head')),
        ('model.auxiliary_head', model.get('auxiliary_head')),
        ('model', model),
    ):
        for i, head in enumerate(part if isinstance(part, (list, tuple)) else [part]):
            if isinstance(head, dict) and isinstance(head.get('num_classes'), int):
                yield (f'{key}.{i}' if isinstance(part, (list, tuple)) else key), head


def _check_num_classes(cfg, mode: str, scope: str) -> List[Tuple[str, str]]:
    model = cfg.get('model')
    loader = cfg.get('train_dataloader' if mode == 'train' else 'test_dataloader')
    if not isinstance(model, dict) or not isinstance(loader, dict):
        return []
    leaves = list(_datasets(loader.get('dataset')))
    if len(leaves) != 1:
        return []
    classes = _dataset_classes(leaves[0], scope)
    if not classes:
        return []
    wrong = [(key, head['num_classes']) for key, head in _heads(model) if head['num_classes'] != len(classes)]
    if not wrong:
        return []
    keys = ', '.join(f'{key}.num_classes={n}' for key, n in wrong)
    fix = ' '.join(f'{key}.num_classes={len(classes)}' for key, _ in wrong)
    return [
        (
            'classes',
            f'{keys}, but the {"training" if mode == "train" else "test"} dataset has {len(classes)} '
            f'classes ({shorten(classes)}). Set every head to the dataset: --cfg-options {fix} (or give '
            f'the dataset metainfo=dict(classes=(...)) that matches the data).',
        )
    ]


def _check_work_dir(cfg) -> List[Tuple[str, str]]:
    work_dir = cfg.get('work_dir')
    if not isinstance(work_dir, str) or is_remote(work_dir):
        return []
    path = osp.abspath(work_dir)
    probe = path
    while not osp.exists(probe):
        parent = osp.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not osp.isdir(probe):
        return [
            (
                'work_dir',
                f'work_dir {work_dir!r} cannot be created: {probe} is a file, not a folder. Choose '
                f'another with --work-dir PATH.',
            )
        ]
    if not os.access(probe, os.W_OK | os.X_OK):
        which = 'it' if probe == path else f'its parent {probe}'
        return [
            (
                'work_dir',
                f'work_dir {work_dir!r} is not writable ({which} does not allow writing for this '
                f'user): logs and checkpoints go there. Choose another with --work-dir PATH.',
            )
        ]
    return []
