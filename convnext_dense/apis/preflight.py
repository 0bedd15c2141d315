"""Check a config before mmengine's Runner is built, and print user mistakes as one clear error.

mmengine builds the parts of a run lazily and checks little: a missing dataset shows up as a
traceback from a dataloader build, missing ImageNet weights after the model is built, mixed
precision on a CPU as an ``AssertionError`` from ``AmpOptimWrapper``, a misspelt ``--cfg-options``
key not at all (mmengine adds the new key and nothing reads it). This module finds those mistakes
first and names the file, key or value and the fix:

* :func:`check_cfg_options`: every ``--cfg-options`` key must exist in the config, or be an
  argument of the class its dict builds (``model.backbone.with_cp``), or sit below a dict the
  option itself creates; otherwise a ``ValueError`` suggests the nearest existing key (difflib).
  ``+key=value`` adds a key without the check.
* :func:`preflight`: the data folders and annotation files the dataloaders and evaluators name,
  the ImageNet weights (``init_cfg``) and ``load_from``, mixed precision without a GPU, the
  heads' ``num_classes`` against the dataset's classes, the backbone size against the neck's or
  heads' ``in_channels``, and whether the work dir can be written. All problems are reported
  together in one :class:`PreflightError`, with where the data go, how to get the weights and
  which CPU demo runs here.
* :func:`run_cli`: runs a tool's ``main``; a ``ValueError``/``OSError``/``RuntimeError`` raised by
  this project's own code (a user mistake, e.g. a corrupt image named by the checked datasets, a
  checkpoint of another size) is printed as ``error: ...`` with exit code 2 instead of a
  traceback. ``CONVNEXT_DENSE_TRACEBACK=1`` shows the traceback.

The mistakes and their messages are listed in ``docs/errors.md``.
"""

import difflib
import importlib
import inspect
import logging
import os
import os.path as osp
import re
import sys
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from mmengine.logging import print_log

from ..utils import shorten

PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
REPO_DIR = osp.dirname(PACKAGE_DIR)
TRACEBACK_ENV = 'CONVNEXT_DENSE_TRACEBACK'

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

# Keys of dicts without a ``type`` that mmengine (or a constructor) reads: new keys are checked against
# them. The loops and dataloaders are added from their signatures in _implied_keys.
_PARAMWISE_KEYS = {
    'custom_keys',
    'bias_lr_mult',
    'bias_decay_mult',
    'norm_decay_mult',
    'dwconv_decay_mult',
    'flat_decay_mult',
    'dcn_offset_lr_mult',
    'bypass_duplicate',
    'decay_rate',
    'decay_type',
    'num_layers',
}
_TOP_LEVEL_EXTRA = {
    'data_root',
    'tta_model',
    'tta_pipeline',
    'custom_imports',
    'default_scope',
    'work_dir',
    'launcher',
    'auto_scale_lr',
    'model_wrapper_cfg',
    'compile',
    'backend_args',
}
_FIXED_KEYS = {
    'env_cfg': {'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'},
    'randomness': {'seed', 'deterministic', 'diff_rank_seed'},
    'auto_scale_lr': {'enable', 'base_batch_size'},
}


class PreflightError(ValueError):
    """The problems that stop a config from running, each with its fix.

    Attributes:
        problems: ``[(topic, text), ...]``, e.g. ``('data', 'data/coco/train2017/ does not exist ...')``.
    """

    def __init__(self, message: str, problems: Sequence[Tuple[str, str]] = ()):
        super().__init__(message)
        self.problems = list(problems)


# --------------------------------------------------------------------------------- --cfg-options
def check_cfg_options(cfg, options: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Check that ``--cfg-options`` keys name existing keys; return the options to merge.

    A key is accepted when (1) it exists in ``cfg`` (list items by index: ``a.0.b``), or (2) its first
    new part is an argument of the class that the enclosing dict builds (its ``type``, or the
    Runner, train/val/test loop or DataLoader for the top level, ``train_cfg``/``val_cfg``/
    ``test_cfg`` and ``*_dataloader`` without a type), e.g. ``model.backbone.with_cp=True``;
    the parts below a new key are free (the option creates that dict), or (3) it starts with
    ``+``, which adds it without a check (the ``+`` is removed). When the class cannot be found
    or takes ``**kwargs`` it does not pass on, any key is accepted.

    Args:
        cfg: the ``mmengine.Config`` the options will be merged into.
        options: ``{dotted key: value}`` as parsed by mmengine's ``DictAction``.

    Returns:
        The options with ``+`` prefixes removed.

    Raises:
        ValueError: a key that does not exist and is not accepted; the message names the key, the
            nearest existing keys and the ``+`` escape.
    """
    if not options:
        return {}
    out = {}
    scope = cfg.get('default_scope')
    for full_key, value in options.items():
        if full_key.startswith('+'):
            out[full_key[1:]] = value
            continue
        _check_one_key(cfg, full_key, value, scope)
        out[full_key] = value
    return out


def _check_one_key(cfg, full_key: str, value: Any, scope: Optional[str]) -> None:
    parts = full_key.split('.')
    node: Any = cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg
    path: List[str] = []
    for i, part in enumerate(parts):
        shown = '.'.join(path) or '(top level)'
        if isinstance(node, (list, tuple)):
            if not part.isdigit():
                raise ValueError(
                    f'--cfg-options {full_key}={value!r}: {shown} is a list of {len(node)} items; '
                    f'name an item by its index, e.g. {".".join(path + ["0"] + parts[i:])}.'
                )
            if int(part) >= len(node):
                raise ValueError(
                    f'--cfg-options {full_key}={value!r}: {shown} has only {len(node)} items '
                    f'(indices 0..{len(node) - 1}).'
                )
            node = node[int(part)]
            path.append(part)
            continue
        if not isinstance(node, dict):
            raise ValueError(
                f'--cfg-options {full_key}={value!r}: {shown} is {node!r} (a {type(node).__name__}), '
                f'not a dict, so it has no key {part!r}. Set {shown} as a whole instead.'
            )
        if part in node:
            node = node[part]
            path.append(part)
            continue
        accepted, owner = _implied_keys(node, path, scope)
        if accepted is None or part in accepted:
            return  # an argument of the class this dict builds (or one we cannot check); below it is new
        candidates = sorted(set(map(str, node)) | accepted)
        close = _closest(part, candidates)
        where = (f'under {shown}' + (f' ({owner})' if owner else '')) if path else 'at the top level'
        if close:
            hint = 'Did you mean ' + ' or '.join('.'.join(path + [c] + parts[i + 1 :]) for c in close) + '?'
        else:
            hint = f'The keys there are: {", ".join(candidates[:25])}{" ..." if len(candidates) > 25 else ""}.'
        raise ValueError(
            f'--cfg-options {full_key}={value!r}: the config has no key {part!r} {where}, and mmengine would add it '
            f'without a word while nothing reads it. {hint} To add a new key on purpose, write '
            f'+{full_key}={value!r}.'
        )


def _closest(word: str, candidates: Sequence[str]) -> List[str]:
    """The candidates nearest to ``word`` (difflib ratio >= 0.6, within 0.05 of the best)."""
    scored = sorted(((difflib.SequenceMatcher(None, word, c).ratio(), c) for c in candidates), reverse=True)
    return [c for r, c in scored if r >= 0.6 and r >= scored[0][0] - 0.05][:3] if scored else []


def _implied_keys(node: dict, path: List[str], scope: Optional[str]) -> Tuple[Optional[Set[str]], str]:
    """Keys a dict may hold beyond its own: the arguments of what it builds. None: cannot tell."""
    if 'type' in node:
        obj = _resolve_type(node['type'], scope)
        if obj is None:
            return None, ''
        accepted = _accepted_args(obj)
        return (None if accepted is None else accepted | {'type', '_delete_', '_scope_'}), getattr(
            obj, '__name__', str(node['type'])
        )
    name = path[-1] if path else ''
    if not path:
        from mmengine.runner import Runner

        return _accepted_args(Runner) | _TOP_LEVEL_EXTRA, ''
    if len(path) == 1 and name in ('train_cfg', 'val_cfg', 'test_cfg'):
        from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop

        loop = {'val_cfg': ValLoop, 'test_cfg': TestLoop}.get(
            name, EpochBasedTrainLoop if node.get('by_epoch', 'max_epochs' in node) else IterBasedTrainLoop
        )
        return (_accepted_args(loop) or set()) | {'by_epoch', 'type'}, loop.__name__
    if len(path) == 1 and name.endswith('_dataloader'):
        from torch.utils.data import DataLoader

        return _accepted_args(DataLoader) | {'sampler', 'batch_sampler', 'collate_fn', 'dataset'}, 'DataLoader'
    if name == 'paramwise_cfg':
        return set(_PARAMWISE_KEYS), 'optimizer constructor options'
    if len(path) == 1 and name in _FIXED_KEYS:
        return set(_FIXED_KEYS[name]), ''
    return set(), ''


def _resolve_type(type_: Any, scope: Optional[str]) -> Any:
    if not isinstance(type_, str):
        return type_ if callable(type_) else None
    from mmengine.registry import Registry

    if '.' in type_:
        scope, type_ = type_.split('.', 1)
    for name in dict.fromkeys([scope or 'mmengine', 'mmengine']):
        try:
            module = importlib.import_module(f'{name}.registry')
        except ImportError:
            continue
        for registry in vars(module).values():
            if isinstance(registry, Registry):
                try:
                    obj = registry.get(type_)
                except Exception:  # a registry whose modules fail to import: keep looking
                    obj = None
                if obj is not None:
                    return obj
    return None


def _accepted_args(obj: Any) -> Optional[Set[str]]:
    """Keyword arguments a class (following ``**kwargs`` up its bases) or function takes; None if open."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    functions = (
        [k.__dict__['__init__'] for k in obj.__mro__ if '__init__' in k.__dict__ and k is not object]
        if inspect.isclass(obj)
        else [obj]
    )
    names: Set[str] = set()
    for function in functions:
        try:
            params = list(inspect.signature(function).parameters.values())
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in params if p.kind in kinds} - {'self'}
        if not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params):
            return names
    return names if inspect.isclass(obj) and functions else None


# ------------------------------------------------------------------------------------ preflight
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
    problems += _check_backbone(cfg)
    problems += _check_num_classes(cfg, mode, scope)
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


def _is_remote(path: Any) -> bool:
    return isinstance(path, str) and re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*://', path) is not None


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
        return p if (not root or osp.isabs(p) or _is_remote(p)) else osp.join(root, p)

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
                if _is_remote(path) or path in missing or _under(path, missing):
                    continue  # reported already, or its data_root is missing (said once)
                if not (osp.isdir(path) if kind == 'dir' else osp.isfile(path)):
                    missing[path] = f'{section}_dataloader.dataset.{what}'
        evaluators = cfg.get(f'{section}_evaluator')
        for ev in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
            ann = ev.get('ann_file') if isinstance(ev, dict) else None
            if (
                isinstance(ann, str)
                and ann
                and not _is_remote(ann)
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
        if _is_remote(ckpt):
            if not _url_is_cached(ckpt):
                from ..models.weights import cached_path

                notes.append(
                    f'weights: {ckpt} ({key}.checkpoint) is not downloaded yet: it downloads on first use '
                    f'when online, into {cached_path(ckpt)}; offline, fetch it on a machine that is online '
                    f'with `python tools/download_weights.py {config_path}` and copy it there, or point '
                    f'the config at a file you have: --cfg-options {key}.checkpoint=PATH.'
                )
        elif not osp.isfile(ckpt):
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
    if isinstance(load_from, str) and not _is_remote(load_from) and not osp.isfile(load_from):
        problems.append(
            (
                'weights',
                f'load_from={load_from!r} does not exist: give the path of a checkpoint of this '
                f'model (--cfg-options load_from=PATH) or drop it (load_from=None).',
            )
        )
    return problems, notes


def _url_is_cached(url: str) -> bool:
    """Whether torch hub's cache (where :mod:`convnext_dense.models.weights` downloads to) holds ``url``."""
    from ..models.weights import cached_path

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


def _check_backbone(cfg) -> List[Tuple[str, str]]:
    model = cfg.get('model')
    backbone = model.get('backbone') if isinstance(model, dict) else None
    if not isinstance(backbone, dict) or str(backbone.get('type', '')).split('.')[-1] != 'ConvNeXt':
        return []
    from ..models.convnext import ARCH_SETTINGS, resolve_arch

    arch = backbone.get('arch', 'tiny')
    if isinstance(arch, str) and arch not in ARCH_SETTINGS:
        close = difflib.get_close_matches(arch, list(ARCH_SETTINGS), n=1, cutoff=0.5)
        hint = f'Did you mean {close[0]!r}? ' if close else ''
        return [
            (
                'model',
                f'model.backbone.arch={arch!r} is not a ConvNeXt size. {hint}The sizes are '
                f'{", ".join(ARCH_SETTINGS)}, or a dict(depths=[...], dims=[...]).',
            )
        ]
    try:
        dims = resolve_arch(arch)['dims']
    except (TypeError, ValueError) as e:
        return [('model', f'model.backbone.arch: {e}')]
    out_indices = backbone.get('out_indices', (0, 1, 2, 3))
    if not all(isinstance(i, int) and -len(dims) <= i < len(dims) for i in out_indices):
        return [('model', f'model.backbone.out_indices={list(out_indices)}: ConvNeXt has stages 0..{len(dims) - 1}.')]
    outs = [dims[i] for i in out_indices]
    problems = []
    name = arch if isinstance(arch, str) else 'custom'
    neck = model.get('neck')
    for key, part in (
        ('model.neck', neck if isinstance(neck, dict) else None),
        ('model.decode_head', model.get('decode_head')),
        ('model.auxiliary_head', model.get('auxiliary_head')),
    ):
        if not isinstance(part, dict) or 'in_channels' not in part:
            continue
        index = part.get('in_index', list(range(len(outs))) if key == 'model.neck' else None)
        try:
            want = (
                [outs[j] for j in index]
                if isinstance(index, (list, tuple))
                else outs[index]
                if isinstance(index, int)
                else None
            )
        except IndexError:
            continue
        have = part['in_channels']
        have = list(have) if isinstance(have, (list, tuple)) else have
        if want is not None and have != want:
            shown = str(want).replace(' ', '')
            problems.append(
                (
                    'model',
                    f'{key}.in_channels={have} but ConvNeXt arch {name!r} gives {want} there: '
                    f'use the config written for this size, or --cfg-options '
                    f'{key}.in_channels={shown}.',
                )
            )
    return problems


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
    cls = _resolve_type(ds.get('type'), scope) if ds.get('type') else None
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
    if not isinstance(work_dir, str) or _is_remote(work_dir):
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


# ------------------------------------------------------------------------------------- the tools
def user_error_message(exc: BaseException) -> Optional[str]:
    """The message of a user mistake raised by this project's code, or None for anything else.

    A user mistake is a ``ValueError``, ``OSError`` (``FileNotFoundError``, ...) or ``RuntimeError``
    raised in ``convnext_dense`` or ``tools/``: the checks name the file, key or value and the fix.
    mmengine's registry re-raises errors with a ``class `X` in ...:`` prefix and keeps the original
    as the context: the original's message is used. An error from a DataLoader worker is recognised
    from the traceback text torch puts in its message.
    """
    chain, seen = [], set()
    node: Optional[BaseException] = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        chain.append(node)
        node = (
            node.__cause__ if node.__cause__ is not None else (None if node.__suppress_context__ else node.__context__)
        )
    for candidate in reversed(chain):  # the innermost of ours: the check that found the mistake
        if not isinstance(candidate, (ValueError, OSError, RuntimeError)):
            continue
        worker = _worker_error(str(candidate))
        if worker is not None:
            return worker
        tb = candidate.__traceback__
        if tb is None:
            continue
        while tb.tb_next is not None:
            tb = tb.tb_next
        if _is_ours(tb.tb_frame.f_code.co_filename):
            return str(candidate)
    return None


def _is_ours(filename: str) -> bool:
    filename = osp.abspath(filename)
    return filename.startswith(PACKAGE_DIR + os.sep) or filename.startswith(osp.join(REPO_DIR, 'tools') + os.sep)


def _worker_error(text: str) -> Optional[str]:
    match = re.match(r'Caught (\w+) in DataLoader worker process \d+\.\nOriginal Traceback', text)
    if not match:
        return None
    frames = list(re.finditer(r'File "([^"]+)", line \d+, in [^\n]*\n', text))
    if not frames or not _is_ours(frames[-1].group(1)):
        return None
    rest = text[frames[-1].end() :]
    found = re.search(rf'^{match.group(1)}: (.*)', rest, flags=re.M | re.S)
    return found.group(1).strip() if found else None


def run_cli(main: Callable[[], Any]) -> int:
    """Run a tool's ``main``; print a user mistake as ``error: ...`` and return 2, else return 0.

    Anything that is not a user mistake (see :func:`user_error_message`) keeps its traceback, and
    ``CONVNEXT_DENSE_TRACEBACK=1`` keeps it for all.
    """
    try:
        main()
    except (ValueError, OSError, RuntimeError) as e:
        message = user_error_message(e)
        if message is None or os.environ.get(TRACEBACK_ENV, '') not in ('', '0'):
            raise
        print(f'error: {message}', file=sys.stderr)
        if not isinstance(e, PreflightError):
            print(f'(the full traceback: {TRACEBACK_ENV}=1)', file=sys.stderr)
        return 2
    return 0
