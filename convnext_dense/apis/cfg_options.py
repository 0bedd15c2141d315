"""Check ``--cfg-options`` keys against a config before they are merged into it.

mmengine's ``Config.merge_from_dict`` adds an unknown key without a word: ``train_cfg.max_epoch=1`` (for
``max_epochs``) creates a new key that nothing reads, and the run trains as configured. Here every key
must exist in the config, or be an argument of the class its dict builds (``model.backbone.with_cp``),
or sit below a dict the option itself creates; otherwise a :class:`~convnext_dense.errors.ConfigError`
suggests the nearest existing key (difflib). ``+key=value`` adds a key without the check.
:func:`convnext_dense.apis.load_config` calls :func:`check_cfg_options`.
"""

import difflib
import importlib
import inspect
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from ..errors import ConfigError

__all__ = ['check_cfg_options', 'resolve_type']

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
        ConfigError: a key that does not exist and is not accepted; the message names the key, the
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
                raise ConfigError(
                    f'--cfg-options {full_key}={value!r}: {shown} is a list of {len(node)} items; '
                    f'name an item by its index, e.g. {".".join(path + ["0"] + parts[i:])}.'
                )
            if int(part) >= len(node):
                raise ConfigError(
                    f'--cfg-options {full_key}={value!r}: {shown} has only {len(node)} items '
                    f'(indices 0..{len(node) - 1}).'
                )
            node = node[int(part)]
            path.append(part)
            continue
        if not isinstance(node, dict):
            raise ConfigError(
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
        raise ConfigError(
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
        obj = resolve_type(node['type'], scope)
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


def resolve_type(type_: Any, scope: Optional[str]) -> Any:
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
