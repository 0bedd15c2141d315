"""Transforms of ConvNeXt state dicts: renaming every released layout, folding, the classifier's names.

Nothing here reads a file or touches a model: each function takes a ``{key: tensor}`` mapping and
returns one (:func:`fuse_state_dict` folds in place, as the load-state-dict hook needs);
:mod:`.checkpoint` reads files and loads the result. This follows timm's
``checkpoint_filter_fn`` (one pure function that remaps foreign keys), with three transforms:

* :func:`convert_state_dict`: any released layout -> this project's (the authors') keys;
* :func:`fuse_state_dict`: the unfused keys -> the folded structure of ``ConvNeXt(deploy=True)``;
* :func:`to_classifier_state_dict`: a whole classifier -> :class:`ConvNeXtClassifier`'s keys;

plus :func:`infer_arch` / :func:`describe_arch`, which say what a converted state dict holds.

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

Hugging Face ``transformers`` (``ConvNextModel`` / ``ConvNextV2Model``, ``convnext.`` / ``convnextv2.`` before
every key in their ``*ForImageClassification``, ``backbone.`` in ``UperNetForSemanticSegmentation``) and DINOv3
(``DINOv3ConvNextModel`` in transformers; the DINOv3 repository's own ``ConvNeXt`` is the official layout plus
``norms.3``, its final ``norm`` saved a second time under the list its dense outputs use):

==============================  ===============================================  ===================================
official (FB) = ours            transformers ConvNext / ConvNextV2               transformers DINOv3ConvNext
==============================  ===============================================  ===================================
downsample_layers.0.{0,1}       embeddings.patch_embeddings / .layernorm         stages.0.downsample_layers.{0,1}
downsample_layers.i.{0,1}       encoder.stages.i.downsampling_layer.{0,1}        stages.i.downsample_layers.{0,1}
stages.i.j.dwconv / norm        encoder.stages.i.layers.j.dwconv / layernorm     stages.i.layers.j.depthwise_conv /
                                                                                 layer_norm
stages.i.j.pwconv1 / 2, gamma   ...layers.j.pwconv1 / 2, layer_scale_parameter   ...pointwise_conv1 / 2, gamma
stages.i.j.grn.weight / bias    ...layers.j.grn.weight / bias, (1, 1, 1, C)      --
norm (final), head              layernorm, classifier                            layer_norm
norm0..norm3 (dense outputs)    hidden_states_norms.stage1..stage4 (Backbone)    --
==============================  ===============================================  ===================================

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
"""

import math
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

import torch

from ..errors import CheckpointError
from .arch import ARCH_SETTINGS

# (pattern, replacement) applied in order to each key; the patterns of different layouts never
# match each other's keys, so one table serves every layout.
_RENAMES: List[Tuple[str, Union[str, Callable[[re.Match], str]]]] = [
    # Hugging Face transformers ConvNext / ConvNextV2 (the ForImageClassification models add the prefix)
    (r'^convnext(v2)?\.', ''),
    (r'^embeddings\.patch_embeddings\.', 'downsample_layers.0.0.'),
    (r'^embeddings\.layernorm\.', 'downsample_layers.0.1.'),
    (r'^encoder\.stages\.(\d+)\.downsampling_layer\.', r'downsample_layers.\1.'),
    (r'^encoder\.stages\.(\d+)\.layers\.(\d+)\.', r'stages.\1.\2.'),
    (r'\.layernorm\.', '.norm.'),
    (r'\.layer_scale_parameter$', '.gamma'),
    (r'^layernorm\.', 'norm.'),
    (r'^classifier\.', 'head.'),
    (r'^hidden_states_norms\.stage(\d+)\.', lambda m: f'norm{int(m.group(1)) - 1}.'),  # ConvNextBackbone: 1-based
    # Hugging Face transformers DINOv3ConvNext (its pointwise convs are mmpretrain's names, below)
    (r'^stages\.(\d+)\.downsample_layers\.', r'downsample_layers.\1.'),
    (r'^stages\.(\d+)\.layers\.(\d+)\.', r'stages.\1.\2.'),
    (r'\.layer_norm\.', '.norm.'),
    (r'^layer_norm\.', 'norm.'),
    # DINOv3's own ConvNeXt: norms.3 is its final norm a second time (norms.0-2 are identities)
    (r'^norms\.3\.', 'norm.'),
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
        raise CheckpointError(
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
    """Rename an FB, FCMAE, timm, mmpretrain, Hugging Face, DINOv3 or convnext_dense state dict to this project's keys.

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


def describe_arch(arch: Optional[dict]) -> str:
    """``arch 'tiny' (depths ..., dims ...)`` for an :func:`infer_arch` result, as messages name it."""
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


def _blocks_with(sd: Mapping[str, torch.Tensor], prefix: str, suffix: str) -> List[str]:
    """The blocks (``stages.i.j``, with ``prefix``) that hold a ``suffix`` key, e.g. ``'.gamma'``."""
    start = prefix + 'stages.'
    return sorted({k[: -len(suffix)] for k in sd if k.startswith(start) and k.endswith(suffix)})


def _has(sd: Mapping[str, torch.Tensor], *keys: str) -> bool:
    return all(k in sd for k in keys)


def _fold_block_norm(sd: Dict[str, torch.Tensor], block: str) -> None:
    """``W1 (n * w + b) + b1 = (W1 * w) n + (W1 b + b1)``: the block's LayerNorm affine into ``pwconv1``."""
    lwk, lbk, w1k, b1k = (f'{block}.{n}' for n in ('norm.weight', 'norm.bias', 'pwconv1.weight', 'pwconv1.bias'))
    if not _has(sd, lwk, lbk, w1k, b1k):
        return
    dtype = sd[w1k].dtype
    lw, lb = sd.pop(lwk).double(), sd.pop(lbk).double()
    w1, b1 = sd[w1k].double(), sd[b1k].double()
    sd[w1k], sd[b1k] = (w1 * lw[None, :]).to(dtype), (b1 + w1 @ lb).to(dtype)


def _fold_grn_bias(sd: Dict[str, torch.Tensor], block: str) -> None:
    """``W2 (z + beta) + b2 = W2 z + (W2 beta + b2)``: V2's GRN bias into ``pwconv2``."""
    betak, w2k, b2k = f'{block}.grn.bias', f'{block}.pwconv2.weight', f'{block}.pwconv2.bias'
    if not _has(sd, betak, w2k, b2k):
        return
    beta = sd.pop(betak).double().reshape(-1)
    sd[b2k] = (sd[b2k].double() + sd[w2k].double() @ beta).to(sd[b2k].dtype)


def _fold_gamma(sd: Dict[str, torch.Tensor], block: str) -> None:
    """``g * (W2 h + b2) = (g * W2) h + g * b2``: the layer scale into ``pwconv2``."""
    gk, w2k, b2k = f'{block}.gamma', f'{block}.pwconv2.weight', f'{block}.pwconv2.bias'
    if not _has(sd, gk, w2k, b2k):
        return
    g, dtype = sd.pop(gk).double(), sd[w2k].dtype
    sd[w2k], sd[b2k] = (sd[w2k].double() * g[:, None]).to(dtype), (sd[b2k].double() * g).to(dtype)


def _fold_downsample_norm(sd: Dict[str, torch.Tensor], layer: str) -> None:
    """The LayerNorm affine ``layer.0`` into the 2x2 convolution ``layer.1`` (no padding: the bias term is exact)."""
    lwk, lbk, wk, bk = (f'{layer}.{n}' for n in ('0.weight', '0.bias', '1.weight', '1.bias'))
    if not _has(sd, lwk, lbk, wk, bk):
        return
    lw, lb = sd.pop(lwk).double(), sd.pop(lbk).double()
    w, dtype = sd[wk].double(), sd[wk].dtype
    sd[bk] = (sd[bk].double() + (w * lb[None, :, None, None]).sum(dim=(1, 2, 3))).to(dtype)
    sd[wk] = (w * lw[None, :, None, None]).to(dtype)


def fuse_state_dict(state_dict: Dict[str, torch.Tensor], prefix: str = '') -> Dict[str, torch.Tensor]:
    """Fold a ConvNeXt state dict (this project's layout) into the structure of ``deploy=True``, in place.

    * block ``norm.weight/bias`` into ``pwconv1``: ``W1 (n * w + b) + b1 = (W1 * w) n + (W1 b + b1)``;
    * V2's ``grn.bias`` into ``pwconv2``: ``W2 (z + beta) + b2 = W2 z + (W2 beta + b2)``;
    * ``gamma`` into ``pwconv2``: ``g * (W2 h + b2) = (g * W2) h + g * b2``;
    * the downsampling LayerNorm (``downsample_layers.i.0``, i >= 1) into the 2x2 convolution
      ``downsample_layers.i.1`` (no padding, so the bias term is exact).

    Keys of an already fused state dict are left alone, so folding twice changes nothing; so are the
    keys of a block that lacks the layer they fold into (the loader's fit check names what is missing).
    Computed in float64, stored in the input dtype.

    Args:
        state_dict: tensors keyed as in :class:`~convnext_dense.models.ConvNeXt` (with ``prefix``).
        prefix: e.g. ``'backbone.'`` for a detector's state dict.

    Returns:
        The same dict, folded.

    Example:
        >>> import torch
        >>> sd = {'stages.0.0.pwconv2.weight': torch.ones(2, 8), 'stages.0.0.pwconv2.bias': torch.ones(2),
        ...       'stages.0.0.gamma': torch.tensor([0.5, 2.0])}
        >>> fuse_state_dict(sd)['stages.0.0.pwconv2.bias'], 'stages.0.0.gamma' in sd
        (tensor([0.5000, 2.0000]), False)
    """
    sd = state_dict
    for block in _blocks_with(sd, prefix, '.norm.weight'):
        _fold_block_norm(sd, block)
    for block in _blocks_with(sd, prefix, '.grn.bias'):  # before gamma: W2 beta uses the unscaled W2
        _fold_grn_bias(sd, block)
    for block in _blocks_with(sd, prefix, '.gamma'):
        _fold_gamma(sd, block)
    i = 1
    while f'{prefix}downsample_layers.{i}.1.weight' in sd:
        _fold_downsample_norm(sd, f'{prefix}downsample_layers.{i}')
        i += 1
    return sd


def to_classifier_state_dict(state_dict: Mapping[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Rename a whole-classifier state dict of any released layout (FB, timm, mmpretrain) to the classifier's.

    :func:`convert_state_dict` gives the FB layout (``norm.*`` and ``head.*`` for the final norm and
    classifier; it leaves a state dict already in that layout as it is); this maps that onto
    :class:`~convnext_dense.models.ConvNeXtClassifier`'s ``backbone.*``, ``head.norm.*``, ``head.fc.*``.

    Example:
        >>> import timm
        >>> from convnext_dense.models import ConvNeXtClassifier
        >>> timm_model = timm.create_model('convnext_tiny', depths=(1, 1, 1, 1), dims=(8, 16, 32, 64))
        >>> sd = to_classifier_state_dict(timm_model.state_dict())
        >>> model = ConvNeXtClassifier(dict(type='ConvNeXt', arch=dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64])))
        >>> model.load_state_dict(sd)
        <All keys matched successfully>
    """
    out = OrderedDict()
    for key, value in convert_state_dict(state_dict).items():
        if re.match(r'^norm\.(weight|bias)$', key):
            key = 'head.' + key
        elif re.match(r'^head\.(weight|bias)$', key):
            key = 'head.fc.' + key[len('head.') :]
        else:
            key = 'backbone.' + key
        out[key] = value
    return out
