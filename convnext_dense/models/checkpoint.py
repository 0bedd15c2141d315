"""Read ConvNeXt checkpoints of every released layout into :class:`~convnext_dense.models.ConvNeXt`.

Layouts (docs/recipes.md, "Checkpoint key formats"):

============================  ================================  ===============================
official (FB) = ours          timm                              mmpretrain / mmcls
============================  ================================  ===============================
downsample_layers.0.{0,1}     stem.{0,1}                        downsample_layers.0.{0,1}
downsample_layers.i.{0,1}     stages.i.downsample.{0,1}         downsample_layers.i.{0,1}
stages.i.j.dwconv             stages.i.blocks.j.conv_dw         stages.i.j.depthwise_conv
stages.i.j.pwconv1 / 2        stages.i.blocks.j.mlp.fc1 / fc2   stages.i.j.pointwise_conv1 / 2
stages.i.j.grn.weight / bias  stages.i.blocks.j.mlp.grn.*       stages.i.j.grn.gamma / beta
norm (final), head            head.norm, head.fc                norm3 (classifier), head.fc
norm0..norm3 (dense outputs)  --                                norm0..norm3 (dense backbone)
============================  ================================  ===============================

ConvNeXt V2's FCMAE pre-training files (``convnextv2/pt_only/*_fcmae.pt``) hold the whole masked
autoencoder: the sparse encoder under ``encoder.*`` (MinkowskiEngine modules) beside the decoder
(``proj``, ``mask_token``, ``decoder.*``, ``pred``). :func:`convert_state_dict` reads the encoder as the
V2 repository's fine-tuning does (``main_finetune.py`` drops the decoder keys, then
``utils.remap_checkpoint_keys``): ``encoder.`` is removed; a sparse convolution's ``kernel`` of shape
(K*K, in, out), or (K*K, C) for the depthwise one, becomes the dense ``weight`` (out, in, K, K) /
(C, 1, K, K), kernel index ``h + K * w`` (MinkowskiEngine enumerates kernel offsets with the first
spatial axis fastest); the ``ln`` / ``linear`` wrappers of MinkowskiLayerNorm / MinkowskiLinear are
dropped from the names; (1, C) biases and GRN parameters become (C,). The encoder has no final norm
and no classifier: a classifier fine-tuned from it starts both fresh, as the authors' does.

The name ``norm3`` means two things. In the authors' detection and segmentation checkpoints, in this
project's and in mmpretrain's dense backbones (``out_indices=(0, 1, 2, 3)``,
``gap_before_final_norm=False``, as mmdet's own ConvNeXt configs build it), ``norm0..norm3`` are the
output norms of the four stages, and they load as such. In an mmpretrain *classifier* (its default
``out_indices=-1``, ``gap_before_final_norm=True``) the lone ``norm3`` is the final norm after global
pooling, the authors' ``norm``: a ``norm3`` with no ``norm0``/``norm1``/``norm2`` beside it in an
mmpretrain-layout file (``depthwise_conv`` keys) is read as that final norm, which dense models do not
use (the authors start their output norms fresh).

FB's V2 GRN parameters are ``grn.gamma`` / ``grn.beta`` of shape (1, 1, 1, C); ours are (C,).
timm's small models (``conv_mlp=True``: V2 atto..nano) hold the pointwise layers as 1x1 convolutions,
(out, in, 1, 1); ours are Linear, (out, in).
Checkpoints of this project's classifier (``backbone.*`` + ``head.norm`` / ``head.fc``, the EMA copy
under ``ema_state_dict``) and of its detectors and segmentors (``backbone.*`` among other modules)
are recognised by their ``backbone.`` prefix.

:func:`convert_state_dict` is the one pure renaming function; :func:`load_pretrained` adds file
handling and the strict checks (a missing backbone key is an error, never silently random).
"""

import math
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.logging import print_log

from ..utils import shorten
from .arch import ARCH_SETTINGS
from .weights import is_url, load_url_checkpoint

# (pattern, replacement) applied in order to each key; the patterns of different layouts never
# match each other's keys, so one table serves every layout.
_RENAMES: List[Tuple[str, str]] = [
    # timm
    (r'^stem\.', 'downsample_layers.0.'),
    (r'^stages\.(\d+)\.downsample\.', r'downsample_layers.\1.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.', r'stages.\1.\2.'),
    (r'\.conv_dw\.', '.dwconv.'),
    (r'\.mlp\.fc1\.', '.pwconv1.'),
    (r'\.mlp\.fc2\.', '.pwconv2.'),
    (r'\.mlp\.grn\.', '.grn.'),
    (r'^head\.norm\.', 'norm.'),
    (r'^head\.fc\.', 'head.'),
    # mmpretrain
    (r'\.depthwise_conv\.', '.dwconv.'),
    (r'\.pointwise_conv1\.', '.pwconv1.'),
    (r'\.pointwise_conv2\.', '.pwconv2.'),
    # FB V2 and mmpretrain GRN
    (r'\.grn\.gamma$', '.grn.weight'),
    (r'\.grn\.beta$', '.grn.bias'),
]
_RENAMES_COMPILED = [(re.compile(p), r) for p, r in _RENAMES]
_BODY_KEY = re.compile(r'^(downsample_layers|stages)\.')
_OUT_NORM_KEY = re.compile(r'^norm(\d+)\.')
_AVERAGING_COUNTERS = ('steps', 'n_averaged')  # mmengine's BaseAveragedModel buffers
_FCMAE_ENCODER = 'encoder.'
_SPARSE_WRAPPER = re.compile(r'\.(ln|linear)\.(weight|bias)$')  # MinkowskiLayerNorm.ln, MinkowskiLinear.linear


def is_fcmae(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """True for a ConvNeXt V2 FCMAE pre-training state dict (a sparse ``encoder.*`` with ``.kernel`` tensors)."""
    return any(k.startswith(_FCMAE_ENCODER) and k.endswith('.kernel') for k in state_dict)


def _dense_kernel(key: str, kernel: torch.Tensor) -> torch.Tensor:
    """A MinkowskiEngine kernel, (K*K, in, out) or depthwise (K*K, C), as a dense conv weight."""
    volume = kernel.shape[0]
    k = math.isqrt(volume)
    if kernel.dim() not in (2, 3) or k * k != volume:
        raise ValueError(
            f'FCMAE encoder tensor {key!r} has shape {tuple(kernel.shape)}; a 2-D sparse kernel '
            f'is (K*K, in, out) or, depthwise, (K*K, C). Is this a ConvNeXt V2 FCMAE file?'
        )
    if kernel.dim() == 3:  # (K*K, in, out) -> (out, in, K, K)
        weight = kernel.permute(2, 1, 0).reshape(kernel.shape[2], kernel.shape[1], k, k)
    else:  # (K*K, C) -> (C, 1, K, K)
        weight = kernel.permute(1, 0).reshape(kernel.shape[1], 1, k, k)
    return weight.transpose(2, 3).contiguous()  # kernel index h + K * w: the first axis is the fastest


def _from_fcmae(state_dict: Mapping[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """The sparse FCMAE encoder in the authors' dense key layout (decoder, proj, pred, mask_token dropped)."""
    out = OrderedDict()
    for key, value in state_dict.items():
        if not key.startswith(_FCMAE_ENCODER):
            continue
        key = key[len(_FCMAE_ENCODER) :]
        if key.endswith('.kernel'):
            out[key[: -len('.kernel')] + '.weight'] = _dense_kernel(key, value)
            continue
        key = _SPARSE_WRAPPER.sub(r'.\2', key)
        if key.endswith('.bias') and value.dim() == 2:  # MinkowskiConvolution's bias is (1, out)
            value = value.reshape(-1)
        out[key] = value
    return out


def convert_state_dict(state_dict: Mapping[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Rename an FB, FCMAE, timm, mmpretrain or convnext_dense state dict to this project's keys.

    Pure: the input is not changed, tensors are shared (reshaped GRN and 1x1-conv weights are views;
    FCMAE's sparse kernels are copied into dense ones).

    Args:
        state_dict: a flat ``{key: tensor}`` mapping. If any key starts with ``backbone.``, the mapping
            is taken as a whole model (a classifier, detector or segmentor): its ``backbone.*`` keys
            are kept with the prefix removed, the classifier head's ``head.norm``/``head.fc`` keys are
            renamed like timm's, and all other keys are dropped. A V2 FCMAE pre-training state dict
            (:func:`is_fcmae`) gives its encoder, converted to dense weights (module docstring).

    Returns:
        ``OrderedDict`` in the official (FB) layout, e.g. ``stages.2.5.pwconv1.weight``.

    Example:
        >>> import torch
        >>> sd = {'stages.0.blocks.1.mlp.fc1.weight': torch.zeros(4, 1), 'stem.0.bias': torch.zeros(1)}
        >>> list(convert_state_dict(sd))
        ['stages.0.1.pwconv1.weight', 'downsample_layers.0.0.bias']
    """
    # DistributedDataParallel, or mmengine's EMA wrapper (``module.*`` beside its ``steps`` counter)
    keys = [k for k in state_dict if k not in _AVERAGING_COUNTERS]
    if keys and all(k.startswith('module.') for k in keys):
        state_dict = {k[len('module.') :]: state_dict[k] for k in keys}
    if is_fcmae(state_dict):
        state_dict = _from_fcmae(state_dict)
    elif any(k.startswith('backbone.') for k in state_dict):
        state_dict = {
            k[len('backbone.') :] if k.startswith('backbone.') else k: v
            for k, v in state_dict.items()
            if k.startswith(('backbone.', 'head.norm.', 'head.fc.'))
        }
    classifier_norm3 = _is_mmpretrain_classifier(state_dict)
    out = OrderedDict()
    for key, value in state_dict.items():
        for pattern, repl in _RENAMES_COMPILED:
            key = pattern.sub(repl, key)
        if classifier_norm3 and key.startswith('norm3.'):
            key = 'norm.' + key[len('norm3.') :]
        if key.endswith(('.grn.weight', '.grn.bias')) and value.dim() in (2, 4):
            value = value.reshape(-1)  # FB V2 keeps (1, 1, 1, C), its sparse FCMAE encoder (1, C)
        elif key.endswith(('.pwconv1.weight', '.pwconv2.weight')) and value.dim() == 4:
            value = value.flatten(1)  # timm conv_mlp: a 1x1 conv, (out, in, 1, 1)
        out[key] = value
    return out


def _is_mmpretrain_classifier(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """True for mmpretrain's classifier layout, whose only ``norm{i}`` is the final norm ``norm3``."""
    out_norms = {int(m.group(1)) for m in map(_OUT_NORM_KEY.match, state_dict) if m}
    return out_norms == {3} and any('.depthwise_conv.' in k for k in state_dict)


def infer_arch(state_dict: Mapping[str, torch.Tensor]) -> Optional[dict]:
    """Guess ``dict(depths, dims, grn)`` from a state dict in this project's layout (None if not ConvNeXt)."""
    depths: Dict[int, int] = {}
    for key in state_dict:
        m = re.match(r'^stages\.(\d+)\.(\d+)\.', key)
        if m:
            stage, block = int(m.group(1)), int(m.group(2))
            depths[stage] = max(depths.get(stage, 0), block + 1)
    if not depths:
        return None
    dims = []
    for stage in sorted(depths):
        w = state_dict.get(f'stages.{stage}.0.dwconv.weight')
        dims.append(int(w.shape[0]) if w is not None else -1)
    return dict(
        depths=tuple(depths[s] for s in sorted(depths)), dims=tuple(dims), grn=any('.grn.' in k for k in state_dict)
    )


def _describe(arch: Optional[dict]) -> str:
    if arch is None:
        return 'no ConvNeXt stages'
    for name, setting in ARCH_SETTINGS.items():
        if (tuple(setting['depths']), tuple(setting['dims']), setting.get('grn', False)) == (
            arch['depths'],
            arch['dims'],
            arch['grn'],
        ):
            return f"arch '{name}' (depths {arch['depths']}, dims {arch['dims']})"
    return f"a custom arch (depths {arch['depths']}, dims {arch['dims']}, grn={arch['grn']})"


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


def read_checkpoint(filename: str, map_location='cpu', use_ema: bool = False) -> Dict[str, torch.Tensor]:
    """Load a checkpoint file and return its (raw, unrenamed) flat state dict.

    Understands ``{'state_dict': ...}`` (mmengine, mmpretrain), ``{'model': ...}`` (FB),
    ``{'module': ...}`` and a bare state dict. With ``use_ema`` it takes the EMA weights:
    ``ema_state_dict`` (mmengine's EMAHook) or ``model_ema`` (FB / timm training scripts).

    Raises:
        FileNotFoundError: the path does not exist (the message says how to get and convert weights).
        convnext_dense.models.weights.WeightsDownloadError: an http(s) URL that is not cached and cannot
            be downloaded (the message names the URL, the cache file and the offline option).
        ValueError: the file is not a checkpoint, or it has no EMA weights when they are asked for.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    is_remote = re.match(r'^[a-z0-9+]+://', str(filename)) is not None
    if not is_remote and not osp.isfile(filename):
        raise FileNotFoundError(
            f'Pretrained checkpoint {filename!r} does not exist. Put the ImageNet weights there (e.g. '
            f'convnext_tiny_1k_224.pth from the ConvNeXt release, a timm or mmpretrain ConvNeXt, or a '
            f'checkpoint of configs/classification), or point the config at it: '
            f'--cfg-options model.backbone.init_cfg.checkpoint=PATH. Any of these layouts loads as it is; '
            f"tools/convert_checkpoint.py IN OUT writes it in this project's layout offline."
        )
    if is_url(filename):  # downloaded once into torch hub's cache, read with weights_only=True (weights.py)
        ckpt = load_url_checkpoint(filename, map_location=map_location)
    else:
        try:
            ckpt = CheckpointLoader.load_checkpoint(filename, map_location=map_location)
        except Exception as e:  # torch.load raises many types for a file that is not a checkpoint
            raise ValueError(_unreadable(filename, e)) from e
    if not isinstance(ckpt, dict):
        raise ValueError(f'{filename!r} holds a {type(ckpt).__name__}, not a checkpoint dict')
    if use_ema:
        for key in ('ema_state_dict', 'model_ema', 'state_dict_ema'):
            if key in ckpt:
                sd = ckpt[key]
                break
        else:
            raise ValueError(
                f'{filename!r} has no EMA weights (looked for ema_state_dict, model_ema, '
                f'state_dict_ema; found {sorted(ckpt)}). Drop use_ema=True to load the raw weights.'
            )
    else:
        sd = next((ckpt[k] for k in ('state_dict', 'model', 'module') if isinstance(ckpt.get(k), dict)), ckpt)
    tensors = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(
            f'{filename!r} holds no tensors (top-level keys: {sorted(ckpt)[:10]}); ' f'it is not a model checkpoint'
        )
    return tensors


def load_pretrained(
    model: torch.nn.Module, filename: str, use_ema: bool = False, map_location='cpu', prefix: Optional[str] = None
) -> Dict[str, List[str]]:
    """Load a checkpoint into a :class:`ConvNeXt`, strictly for the backbone's own weights.

    Every ``downsample_layers``/``stages`` parameter of the model must be in the checkpoint with the
    same shape, otherwise a ``ValueError`` lists what is missing and which arch the file holds.
    The output norms (``norm{i}``), new for dense prediction, may be absent and stay initialised.
    Keys the backbone does not use (the classifier's ``norm``/``head``, other model parts) are
    reported in the log.

    Args:
        model: the backbone.
        filename: path or URL of the checkpoint.
        use_ema: take the EMA weights of a classification checkpoint.
        map_location: passed to ``torch.load``.
        prefix: keep only the keys under this prefix (e.g. ``'backbone.'``); mmengine's
            ``Pretrained`` init option of the same name.

    Returns:
        ``dict(missing=[...], unexpected=[...])``: the output norms left initialised, keys not used.
    """
    raw = read_checkpoint(filename, map_location=map_location, use_ema=use_ema)
    if prefix:
        raw = {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)}
        if not raw:
            raise ValueError(f'{filename!r} has no keys under prefix {prefix!r}')
    state = convert_state_dict(raw)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    missing_body = [k for k in missing if _BODY_KEY.match(k)]
    mismatched = [
        f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    file_arch = infer_arch(state)
    model_arch = dict(depths=tuple(model.depths), dims=tuple(model.dims), grn=any('.grn.' in k for k in own))
    problem = []
    if missing_body:
        problem.append(f'{len(missing_body)} backbone weights are missing: {shorten(missing_body)}')
    if mismatched:
        problem.append(f'{len(mismatched)} weights have other shapes: {shorten(mismatched, 4)}')
    if not problem and file_arch is not None:
        # Every weight the model has is there: the file may still be a larger model (more blocks in a
        # stage, GRN where the model has none), whose extra weights would otherwise only be "unused".
        built = len(model.stages)
        for name in ('depths', 'dims'):
            if file_arch[name][:built] != model_arch[name][:built]:
                problem.append(
                    f"its stages have {name} {file_arch[name][:built]}, the model's " f'{model_arch[name][:built]}'
                )
        if file_arch['grn'] != model_arch['grn']:
            problem.append(
                'it has GRN layers (ConvNeXt V2) and the model has none'
                if file_arch['grn']
                else 'the model has GRN layers (ConvNeXt V2) and the file has none'
            )
    if problem:
        raise ValueError(
            f'Checkpoint {filename!r} does not fit this ConvNeXt: '
            + '; '.join(problem)
            + f'. The file holds {_describe(file_arch)}; the model is {_describe(model_arch)}. '
            f"Set model.backbone.arch to the file's arch, or use the checkpoint made for this size."
        )
    unexpected = [k for k in state if k not in own]
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    print_log(
        f'ConvNeXt: loaded {len(own) - len(missing)} tensors from {filename}'
        f'{" (EMA)" if use_ema else ""}; newly initialised: {shorten(missing) or "none"}; '
        f'not used by the backbone: {shorten(unexpected) or "none"}',
        logger='current',
    )
    return dict(missing=missing, unexpected=unexpected)
