"""Read ConvNeXt checkpoint files and load them, strictly, into the backbone or the classifier.

:func:`read_checkpoint` turns a file or URL into a flat ``{key: tensor}`` dict (the FB ``model``,
mmengine's ``state_dict``, EMA copies, ...); :mod:`.state_dict` renames it
(:func:`~convnext_dense.models.state_dict.convert_state_dict`); :func:`fit_state_dict` is the one fit
check, shared by the backbone's loader (:func:`load_pretrained`, ``init_cfg=dict(type='Pretrained')``)
and the classifier's fine-tuning (:meth:`ConvNeXtClassifier.load_finetune_checkpoint`): every weight of
the backbone's stages must be in the file with its shape, and the file must not be a larger model of
the same widths. A missing backbone key is an error, never silently random (strict loading, as
detectron2 loads). A ``deploy=True`` backbone folds an unfused file
(:func:`~convnext_dense.models.state_dict.fuse_state_dict`) before the check.
"""

import os.path as osp
import re
from typing import Dict, List, Optional

import torch
from mmengine.logging import print_log

from .. import hf_hub
from ..errors import CheckpointError, MissingFileError
from ..hub import load_url_checkpoint
from ..utils import is_remote, is_url, shorten
from .state_dict import convert_state_dict, describe_arch, fuse_state_dict, infer_arch

_OUT_NORM_KEY = re.compile(r'^norm\d+\.')  # the dense outputs' norms: new for detection, may start fresh
# the unit of the body a key belongs to: a stage (ConvNeXt, the roadmap steps) or an isotropic block
_BODY_UNIT = re.compile(r'^(downsample_layers|stages)\.\d+\.|^blocks\.\d+\.')
_EMA_KEYS = ('ema_state_dict', 'model_ema', 'state_dict_ema')  # mmengine's EMAHook; FB / timm training scripts
# save_pretrained's files (transformers, timm), in the order from_pretrained reads them
_FOLDER_WEIGHTS = (
    'model.safetensors',
    'model.safetensors.index.json',
    'pytorch_model.bin',
    'pytorch_model.bin.index.json',
)


def _unreadable(filename: str, error: Exception) -> str:
    """A short reason for a file that ``torch.load`` refused."""
    text = str(error)
    refused = re.search(r'Unsupported global: GLOBAL (\S+)', text)
    if refused:
        what = f' ({refused.group(1)})'
        return (
            f"{filename!r} holds Python objects that torch's safe loader (weights_only=True) refuses{what}: a "
            f'checkpoint is a pickle, and only tensors and known types load without trusting the file. A '
            f"checkpoint written by mmengine's plain CheckpointHook holds such objects (its message hub); this "
            f"project's configs write theirs with SafeCheckpointHook, which the safe loader reads. If you trust "
            f'the file, load it once with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 set in the environment.'
        )
    reason = re.search(r'WeightsUnpickler error:\s*([^\n]+)', text)  # the safe loader's reason, not its advice
    first = (
        ('not a pickle torch can read: ' + reason.group(1).strip())
        if reason
        else (text.strip().splitlines() or [''])[0]
    )
    return (
        f'{filename!r} is not a readable PyTorch checkpoint ({type(error).__name__}: {first[:200]}). '
        f'Expected a .pth file saved with torch.save.'
    )


def _load_file(filename: str, map_location) -> dict:
    """The object a checkpoint file, folder, URL or hub name holds (downloads: read with weights_only=True)."""
    if hf_hub.is_hub_name(filename):
        weights = hf_hub.resolve(filename)
        path = hf_hub.fetch(weights)
        print_log(f'ConvNeXt: {weights.describe()}; reading {path}', logger='current')
        return _load_local(path, map_location)
    if is_url(filename):
        return load_url_checkpoint(filename, map_location=map_location)
    if not is_remote(filename) and not osp.exists(filename):
        raise MissingFileError(
            f'Pretrained checkpoint {filename!r} does not exist. Put the ImageNet weights there (e.g. '
            f'convnext_tiny_1k_224.pth from the ConvNeXt release, a timm, mmpretrain or Hugging Face ConvNeXt, '
            f'or a checkpoint of configs/classification), or point the config at it: '
            f'--cfg-options model.backbone.init_cfg.checkpoint=PATH (or a timm tag, timm:convnext_tiny.fb_in1k, '
            f'or a Hub repository, hf-hub:facebook/convnext-tiny-224). Any of these layouts loads as it is; '
            f"tools/convert_checkpoint.py IN OUT writes it in this project's layout offline."
        )
    if not is_remote(filename) and osp.isdir(filename):
        return _load_local(_weights_in_folder(filename), map_location)
    return _load_local(filename, map_location)


def _load_local(filename: str, map_location) -> dict:
    """A ``.safetensors`` file (a shard index: all its shards) or anything mmengine's checkpoint loader reads."""
    from mmengine.runner.checkpoint import CheckpointLoader

    try:
        if filename.endswith('.index.json'):
            return _load_shards(filename, map_location)
        if filename.endswith('.safetensors'):
            from safetensors.torch import load_file

            return load_file(filename, device=map_location if isinstance(map_location, str) else 'cpu')
        return CheckpointLoader.load_checkpoint(filename, map_location=map_location)
    except (CheckpointError, MissingFileError):
        raise
    except Exception as e:  # torch.load and safetensors raise many types for a file that is not a checkpoint
        raise CheckpointError(_unreadable(filename, e)) from e


def _weights_in_folder(folder: str) -> str:
    """The weights file of a folder that ``save_pretrained`` wrote (transformers, timm) or the Hub's cache holds."""
    for name in _FOLDER_WEIGHTS:
        if osp.isfile(osp.join(folder, name)):
            return osp.join(folder, name)
    raise MissingFileError(
        f'{folder!r} is a folder without model weights: looked for {", ".join(_FOLDER_WEIGHTS)} (what '
        f"transformers' and timm's save_pretrained write). Give the checkpoint file itself."
    )


def _load_shards(index_file: str, map_location) -> dict:
    """A sharded checkpoint: every file its ``*.index.json`` names (``weight_map``), merged."""
    import json

    with open(index_file) as f:
        shards = sorted(set(json.load(f)['weight_map'].values()))
    state = {}
    for shard in shards:
        part = _load_local(osp.join(osp.dirname(index_file), shard), map_location)
        state.update(part.get('state_dict', part) if isinstance(part, dict) else {})
    return state


def read_checkpoint(filename: str, map_location='cpu', use_ema: bool = False) -> Dict[str, torch.Tensor]:
    """Load a checkpoint file and return its (raw, unrenamed) flat state dict.

    Understands ``{'state_dict': ...}`` (mmengine, mmpretrain), ``{'model': ...}`` (FB),
    ``{'module': ...}`` and a bare state dict, in a ``torch.save`` file or a ``.safetensors`` file
    (timm's and transformers' Hub files). With ``use_ema`` it takes the EMA weights:
    ``ema_state_dict`` (mmengine's EMAHook) or ``model_ema`` (FB / timm training scripts).

    Args:
        filename: a local file; a folder written by ``save_pretrained`` (transformers, timm: its
            ``model.safetensors`` or ``pytorch_model.bin``, sharded ones too); an http(s) URL (downloaded
            once, :func:`convnext_dense.hub.fetch`); a timm tag ``timm:<model>.<tag>`` or a Hugging Face
            Hub repository ``hf-hub:<owner>/<name>`` (:mod:`convnext_dense.hf_hub`); or another URI
            mmengine's file backends read.
        map_location: passed to ``torch.load``.
        use_ema: take the EMA weights.

    Returns:
        ``{key: tensor}`` as the file names them (non-tensor entries dropped).

    Raises:
        MissingFileError: the path does not exist (the message says how to get and convert weights).
        convnext_dense.hub.WeightsDownloadError: an http(s) URL or hub name that is not cached and cannot
            be downloaded (the message names the URL, the cache file and the offline option).
        ConfigError: a ``timm:`` name timm does not know, or a malformed ``hf-hub:`` name.
        CheckpointError: the file is not a checkpoint, or it has no EMA weights when they are asked for.
    """
    ckpt = _load_file(filename, map_location)
    if not isinstance(ckpt, dict):
        raise CheckpointError(f'{filename!r} holds a {type(ckpt).__name__}, not a checkpoint dict')
    if use_ema:
        sd = next((ckpt[key] for key in _EMA_KEYS if key in ckpt), None)
        if sd is None:
            raise CheckpointError(
                f'{filename!r} has no EMA weights (looked for {", ".join(_EMA_KEYS)}; found {sorted(ckpt)}). '
                f'Drop use_ema=True to load the raw weights.'
            )
    else:
        sd = next((ckpt[k] for k in ('state_dict', 'model', 'module') if isinstance(ckpt.get(k), dict)), ckpt)
    tensors = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(
            f'{filename!r} holds no tensors (top-level keys: {sorted(ckpt)[:10]}); it is not a model checkpoint'
        )
    return tensors


def _model_arch(backbone: torch.nn.Module, own: Dict[str, torch.Tensor]) -> Optional[dict]:
    if not hasattr(backbone, 'depths'):
        return None
    return dict(depths=tuple(backbone.depths), dims=tuple(backbone.dims), grn=any('.grn.' in k for k in own))


def _arch_problems(file_arch: dict, model_arch: dict, built: int) -> List[str]:
    """A file that has every weight of the model may still be a larger model (more blocks, GRN), whose
    extra weights would otherwise only be "unused"."""
    problems = []
    for name in ('depths', 'dims'):
        if file_arch[name][:built] != model_arch[name][:built]:
            problems.append(f"its stages have {name} {file_arch[name][:built]}, the model's {model_arch[name][:built]}")
    if file_arch['grn'] != model_arch['grn']:
        problems.append(
            'it has GRN layers (ConvNeXt V2) and the model has none'
            if file_arch['grn']
            else 'the model has GRN layers (ConvNeXt V2) and the file has none'
        )
    return problems


def fit_state_dict(
    backbone: torch.nn.Module,
    state: Dict[str, torch.Tensor],
    filename: str,
    subject: str = 'Checkpoint',
    what: Optional[str] = None,
    hint: str = '',
) -> Dict[str, torch.Tensor]:
    """The one fit check of a converted state dict against a backbone (ConvNeXt, the roadmap steps, isotropic).

    Every weight of the backbone other than the output norms (``norm{i}``, new for dense prediction,
    which may start fresh) must be in ``state`` with the same shape, and ``state`` must hold no
    backbone weight of a built stage or block that the backbone lacks (more blocks in a stage, GRN, a
    layer scale ``gamma`` the backbone was built without: dropping them would change the function).
    Stages and blocks the backbone does not build, and keys outside the body (a classifier's
    ``norm``/``head``, other model parts) are not checked. A ``deploy=True`` backbone folds ``state`` first.

    Args:
        backbone: the backbone the weights are for.
        state: the file's state dict in this project's layout (:func:`convert_state_dict`); folded in
            place for a ``deploy=True`` backbone.
        filename: the file, for the message.
        subject: how the message starts (``'<subject> <filename> does not fit ...'``).
        what: the backbone, for the message; ``None`` for a ConvNeXt, whose message names the archs of
            the file and the model and the ``model.backbone.arch`` fix.
        hint: the fix to add to the message of another backbone.

    Returns:
        ``state``, folded if the backbone is ``deploy=True``.

    Raises:
        CheckpointError: naming the missing keys, the other shapes or the extra weights, and the fix.
    """
    if getattr(backbone, 'deploy', False):
        fuse_state_dict(state)  # a no-op on a file that is fused already
    own = backbone.state_dict()
    units = {m.group(0) for m in map(_BODY_UNIT.match, own) if m}
    missing = [k for k in own if k not in state and not _OUT_NORM_KEY.match(k)]
    mismatched = [
        f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    extra = [k for k in state if k not in own and _unit(k) in units]
    problems = []
    if missing:
        problems.append(f'{len(missing)} backbone weights are missing: {shorten(missing)}')
    if mismatched:
        problems.append(f'{len(mismatched)} weights have other shapes: {shorten(mismatched, 4)}')
    file_arch, model_arch = (infer_arch(state), _model_arch(backbone, own)) if what is None else (None, None)
    if not problems and file_arch is not None and model_arch is not None:
        problems = _arch_problems(file_arch, model_arch, built=len(backbone.stages))
    if not problems and extra:
        problems.append(f'the file has {len(extra)} backbone weights the model lacks: {shorten(extra)}')
    if problems:
        if what is None:
            hint = (
                f' The file holds {describe_arch(file_arch)}; the model is {describe_arch(model_arch)}. '
                f"Set model.backbone.arch to the file's arch, or use the checkpoint made for this size."
            )
        raise CheckpointError(
            f'{subject} {filename!r} does not fit {what or "this ConvNeXt"}: ' + '; '.join(problems) + '.' + hint
        )
    return state


def _unit(key: str) -> Optional[str]:
    """The stage or block a body key belongs to (``stages.2.``, ``downsample_layers.1.``, ``blocks.7.``)."""
    match = _BODY_UNIT.match(key)
    return match.group(0) if match else None


def read_state(
    filename: str, use_ema: bool = False, map_location='cpu', prefix: Optional[str] = None
) -> Dict[str, torch.Tensor]:
    """A checkpoint file's tensors in this project's layout: :func:`read_checkpoint` + :func:`convert_state_dict`.

    Args:
        filename: path or URL of the checkpoint.
        use_ema: take the EMA weights of a classification checkpoint.
        map_location: passed to ``torch.load``.
        prefix: keep only the keys under this prefix, removed (e.g. ``'backbone.'``); mmengine's ``Pretrained``
            init option of the same name.

    Raises:
        MissingFileError, CheckpointError, WeightsDownloadError: as :func:`read_checkpoint`; nothing under ``prefix``.
    """
    raw = read_checkpoint(filename, map_location=map_location, use_ema=use_ema)
    if prefix:
        raw = {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)}
        if not raw:
            raise CheckpointError(f'{filename!r} has no keys under prefix {prefix!r}; drop the prefix or fix it')
    return convert_state_dict(raw)


def load_state(
    backbone: torch.nn.Module,
    state: Dict[str, torch.Tensor],
    filename: str,
    what: Optional[str] = None,
    hint: str = '',
    note: str = '',
) -> Dict[str, List[str]]:
    """Check ``state`` against ``backbone`` (:func:`fit_state_dict`), load it, and log what was loaded.

    Args:
        backbone, state, filename, what, hint: as :func:`fit_state_dict`.
        note: added to the log line after the file name (``' (EMA)'``).

    Returns:
        ``dict(missing=[...], unexpected=[...])``: the output norms left initialised, the file's keys not used.
    """
    state = fit_state_dict(backbone, state, filename, what=what, hint=hint)
    own = backbone.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    backbone.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    print_log(
        f'{what or "ConvNeXt"}: loaded {len(own) - len(missing)} tensors from {filename}{note}; newly initialised: '
        f'{shorten(missing) or "none"}; not used by the backbone: {shorten(unexpected) or "none"}',
        logger='current',
    )
    return dict(missing=missing, unexpected=unexpected)


def load_pretrained(
    model: torch.nn.Module, filename: str, use_ema: bool = False, map_location='cpu', prefix: Optional[str] = None
) -> Dict[str, List[str]]:
    """Load a checkpoint of any released layout into a :class:`ConvNeXt`, strictly for the backbone's own weights.

    The file is read and renamed (:func:`read_state`) and checked (:func:`fit_state_dict`: a missing or
    mis-shaped backbone weight, or a larger model, is an error that names both archs). The output norms
    (``norm{i}``), new for dense prediction, may be absent and stay initialised. Keys the backbone does not
    use (the classifier's ``norm``/``head``, other model parts) are reported in the log. A ``deploy=True``
    model folds an unfused file.

    Args:
        model: the backbone.
        filename: path or URL of the checkpoint.
        use_ema: take the EMA weights of a classification checkpoint.
        map_location: passed to ``torch.load``.
        prefix: keep only the keys under this prefix (e.g. ``'backbone.'``).

    Returns:
        ``dict(missing=[...], unexpected=[...])``: the output norms left initialised, keys not used.

    Raises:
        MissingFileError, CheckpointError, WeightsDownloadError: as :func:`read_state` and :func:`fit_state_dict`.
    """
    state = read_state(filename, use_ema=use_ema, map_location=map_location, prefix=prefix)
    return load_state(model, state, filename, note=' (EMA)' if use_ema else '')
