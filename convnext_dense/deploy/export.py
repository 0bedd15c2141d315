"""Export a config's model (or its backbone alone) to an ONNX file that onnxruntime runs with PyTorch's results.

:func:`export_onnx` builds the model, loads the checkpoint, folds ConvNeXt into its deploy form
(:meth:`~convnext_dense.models.ConvNeXt.fuse`), wraps it in the graph of its kind (:mod:`.classifier`,
:mod:`.segmentor`, :mod:`.detector`) and traces it with torch's TorchScript-based exporter
(``torch.onnx.export(..., dynamo=False)``: the one that takes the ``symbolic`` of :mod:`.ops`' operators
and data-dependent output sizes). Inputs and outputs are float32; ``fp16=True`` runs the network's layers
in float16 with the normalisations that compute statistics (LayerNorm, GroupNorm, GRN), the preprocessing
and the detectors' box maths and RoIAlign in float32 (:func:`half_with_fp32_norms`). What the graph expects
and returns is written into the file (:func:`read_metadata`) for :mod:`.runtime`.
"""

import json
import os
import os.path as osp
import re
import warnings
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config

from ..errors import CheckpointError, ConfigError, MissingFileError
from .checks import check_exportable, export_error, locate_failure, running_modules
from .classifier import BackboneGraph, ClassifierGraph
from .detector import TwoStageDetectorGraph
from .ops import dynamic_adaptive_pools
from .preprocess import preprocess_from
from .segmentor import SegmentorGraph

__all__ = [
    'export_onnx',
    'export_model',
    'read_metadata',
    'build_model',
    'load_model_checkpoint',
    'task_of',
    'METADATA_KEY',
    'PARTS',
]

METADATA_KEY = 'convnext_dense'
PARTS = ('model', 'backbone')
DEFAULT_OPSET = 17  # LayerNormalization (17), RoiAlign's half_pixel mode (16)


def task_of(cfg: Config, part: str = 'model') -> str:
    """``'backbone'``, ``'classifier'``, ``'segmentor'`` or ``'detector'``: which graph exports ``cfg``'s ``part``."""
    if part not in PARTS:
        raise ConfigError(f'export: part={part!r} is not one of {PARTS}')
    if part == 'backbone':
        return 'backbone'
    scope = cfg.get('default_scope')
    if scope == 'mmdet':
        return 'detector'
    if scope == 'mmseg':
        return 'segmentor'
    return 'classifier'


def build_model(cfg: Config) -> nn.Module:
    """``cfg.model`` built in its scope without the backbone's pretrained weights (the analysis package's
    builder), in eval mode and with ConvNeXt's ``compile`` off: the tracer has to see the forward itself."""
    from ..analysis.complexity import build_model as build_without_weights

    model = build_without_weights(cfg).eval()
    backbone = getattr(model, 'backbone', None)
    if getattr(backbone, 'compile_cfg', False):
        backbone.compile_cfg = False
    return model


def load_model_checkpoint(model: nn.Module, filename: str) -> Optional[dict]:
    """Load a whole-model checkpoint strictly; return its ``dataset_meta`` (class names, palette) if it has one."""
    from mmengine.runner.checkpoint import CheckpointLoader

    if not osp.isfile(filename):
        raise MissingFileError(f'export: checkpoint {filename!r} does not exist')
    try:
        ckpt = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    except Exception as e:  # torch.load raises many types for a file that is not a checkpoint
        raise CheckpointError(f'export: {filename!r} is not a readable checkpoint ({type(e).__name__}: {e})') from e
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f'export: {filename!r} holds no state dict')
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # tensors of other shapes
        shapes = [line.strip() for line in str(e).splitlines() if 'size mismatch' in line]
        raise CheckpointError(
            f"export: {filename!r} does not fit the config's model: {'; '.join(shapes[:2])}; pass the checkpoint "
            f'trained with this config'
        ) from e
    if missing or unexpected:
        raise CheckpointError(
            f"export: {filename!r} does not fit the config's model: {len(missing)} missing keys "
            f'({", ".join(missing[:3])}...), {len(unexpected)} unexpected ({", ".join(unexpected[:3])}...); '
            f'pass the checkpoint trained with this config'
        )
    return (ckpt.get('meta') or {}).get('dataset_meta')


def _dataset_meta(cfg: Config, meta: Optional[dict]) -> dict:
    """Class names (and palette) for the runtime: the checkpoint's, else the test dataset's metainfo."""
    if not meta:
        dataset = (cfg.get('test_dataloader') or {}).get('dataset', {})
        meta = dict(dataset.get('metainfo') or {})
    out = {}
    for key in ('classes', 'palette'):
        if meta.get(key) is not None:
            out[key] = [list(v) if isinstance(v, (tuple, list)) else v for v in meta[key]]
    return out


def _norm_input_fp32(module: nn.Module, args: tuple) -> tuple:
    module._input_dtype = args[0].dtype
    return (args[0].float(),) + tuple(args[1:])


def _norm_output_back(module: nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor:
    return out.to(module._input_dtype)


def half_with_fp32_norms(model: nn.Module) -> nn.Module:
    """Float16 layers, float32 normalisations: what ``fp16=True`` exports; in place, returns ``model``.

    LayerNorms and GroupNorms (their statistics overflow float16: a sum of squares above 65504) keep their
    float32 parameters, unrounded, and compute in float32: timm's ``LayerNormFp32`` / ``LayerNorm2dFp32``
    (ConvNeXt) and ConvNeXt V2's GRN do so by themselves, any other one gets its input cast to float32 and
    its output back. BatchNorm at test time is a fixed per-channel affine map (no statistics) and stays in
    float16, where the exporter folds it into the convolution before it.
    """
    from timm.layers import LayerNorm2dFp32, LayerNormFp32

    from ..models.convnext import GRN

    norms = [m for m in model.modules() if isinstance(m, (nn.LayerNorm, nn.GroupNorm, GRN))]
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms]
    model.half()
    for module, state in zip(norms, saved):
        module.float()
        module.load_state_dict(state)
        if not isinstance(module, (LayerNormFp32, LayerNorm2dFp32, GRN)):
            module.register_forward_pre_hook(_norm_input_fp32)
            module.register_forward_hook(_norm_output_back)
    return model


def _fuse(model: nn.Module) -> bool:
    backbone = getattr(model, 'backbone', model)
    if hasattr(backbone, 'fuse'):
        backbone.fuse()
        return True
    return False


def _graph(model: nn.Module, task: str, dtype: torch.dtype) -> Tuple[nn.Module, str, dict]:
    """The graph module, its model attribute name and the task's metadata."""
    if task == 'backbone':
        backbone = getattr(model, 'backbone', model)
        strides = getattr(backbone, 'out_strides', None)
        meta = dict(out_channels=list(getattr(backbone, 'out_channels', []) or []), out_strides=list(strides or []))
        meta['input'] = "float32 NCHW, the backbone's own input (the normalised image); outputs float32"
        return BackboneGraph(backbone, dtype), '', meta
    pre = preprocess_from(model.data_preprocessor)
    channels = 'RGB' if task == 'classifier' else 'BGR, as mmcv loads images'
    meta = dict(input=pre.describe(channels))
    if task == 'classifier':
        meta['num_classes'] = int(model.num_classes)
        return ClassifierGraph(model, pre, dtype), 'classifier', meta
    if task == 'segmentor':
        test_cfg = model.test_cfg
        meta.update(
            mode=test_cfg.get('mode', 'whole'),
            num_classes=int(model.out_channels),
            align_corners=bool(model.decode_head.align_corners),
            threshold=float(getattr(model.decode_head, 'threshold', 0.3) or 0.3),
        )
        if meta['mode'] == 'slide':
            meta.update(crop_size=list(test_cfg.crop_size), stride=list(test_cfg.stride))
        return SegmentorGraph(model, pre, dtype), 'segmentor', meta
    rcnn = model.roi_head.test_cfg
    meta.update(with_mask=bool(model.roi_head.with_mask), mask_thr_binary=float(rcnn.get('mask_thr_binary', 0.5)))
    return TwoStageDetectorGraph(model, pre, dtype), 'detector', meta


def _io(task: str, meta: dict, num_outputs: int):
    """Input name, output names and dynamic axes of each task's graph (``num_outputs``: the backbone's)."""
    if task == 'backbone':
        outputs = [f'feat{i}' for i in range(num_outputs)]
        axes = {'input': {0: 'batch', 2: 'height', 3: 'width'}}
        axes.update({name: {0: 'batch', 2: f'{name}_height', 3: f'{name}_width'} for name in outputs})
        return 'input', outputs, axes
    image_axes = {0: 'batch', 2: 'height', 3: 'width'}
    if task == 'classifier':
        return 'image', ['logits'], {'image': image_axes, 'logits': {0: 'batch'}}
    if task == 'segmentor':
        return 'image', ['logits'], {'image': image_axes, 'logits': image_axes}
    outputs = ['boxes', 'scores', 'labels'] + (['masks'] if meta['with_mask'] else [])
    axes = {'image': {2: 'height', 3: 'width'}}  # one image a call: detections per image have their own count
    axes.update({name: {0: 'detections'} for name in outputs})
    return 'image', outputs, axes


def _count_outputs(graph: nn.Module, example: torch.Tensor) -> int:
    """How many feature maps a backbone that does not declare its strides returns."""
    with torch.no_grad():
        return len(graph(example))


def default_shape(cfg: Config, task: str) -> Tuple[int, int]:
    """(height, width) of the tracing example: the slide crop, the classifier's input, or a 320 x 320 image."""
    if task == 'segmentor' and cfg.model.get('test_cfg', {}).get('mode') == 'slide':
        return tuple(cfg.model.test_cfg.crop_size)
    if task in ('classifier', 'backbone') and cfg.get('default_scope') not in ('mmdet', 'mmseg'):
        return (224, 224)
    return (320, 320)


def export_onnx(
    cfg: Config,
    checkpoint: Optional[str],
    out: str,
    part: str = 'model',
    fp16: bool = False,
    fuse: bool = True,
    opset: int = DEFAULT_OPSET,
    shape: Optional[Sequence[int]] = None,
    verify: bool = True,
) -> dict:
    """Export ``cfg``'s model (``part='model'``) or its backbone (``part='backbone'``) to ``out``.

    Args:
        cfg: the config (detection, segmentation or classification).
        checkpoint: the trained weights (a whole-model mmengine checkpoint); None keeps the random init.
        out: the ``.onnx`` file to write.
        part: ``'model'`` or ``'backbone'``.
        fp16: float16 layers, float32 normalisations and post-processing (see the module docstring).
        fuse: export ConvNeXt's deploy form (LayerNorm affine and layer scale folded into the Linears).
        opset: the ONNX opset (at least 17).
        shape: (height, width) of the tracing example; sizes stay dynamic in the graph.
        verify: run the file in onnxruntime at another size (and batch) than the traced one and compare it
            with the model in PyTorch (:func:`verify_export`); the result is in the metadata.

    Returns:
        The metadata written into the file (:func:`read_metadata`).

    Raises:
        ConfigError: a part of the model that the export cannot express, named by its config key.
        CheckpointError / MissingFileError: a checkpoint that is missing or does not fit.
    """
    task = task_of(cfg, part)
    model = build_model(cfg)
    check_exportable(cfg, model, task)
    dataset_meta = load_model_checkpoint(model, checkpoint) if checkpoint else None
    shape = shape or default_shape(cfg, task)
    return _export(model, task, out, fp16, fuse, opset, shape, _dataset_meta(cfg, dataset_meta), verify)


def export_model(
    model: nn.Module, task: str, out: str, fp16: bool = False, opset: int = DEFAULT_OPSET, shape=(320, 320)
):
    """Export a built model in eval mode (:func:`task_of` names its ``task``), e.g. one the benchmark built.

    The model is changed in place (fused, pyramid pools swapped, float16 with ``fp16``): pass a copy to keep
    it. Returns the metadata written into ``out``.
    """
    return _export(model, task, out, fp16, True, opset, tuple(shape), {}, verify=False)


def _export(model, task, out, fp16, fuse, opset, shape, dataset_meta, verify) -> dict:
    import onnx

    if opset < DEFAULT_OPSET:
        raise ConfigError(f'export: opset={opset}; the graphs need opset {DEFAULT_OPSET} or later')
    fused = _fuse(model) if fuse else False
    dynamic_adaptive_pools(model)
    dtype = torch.float16 if fp16 else torch.float32
    if fp16:
        half_with_fp32_norms(model)
    graph, prefix, meta = _graph(model, task, dtype)
    graph.eval()
    example = torch.rand(1, 3, *shape) * (1 if task == 'backbone' else 255)
    num_outputs = len(meta.get('out_strides') or []) or (_count_outputs(graph, example) if task == 'backbone' else 0)
    in_name, out_names, axes = _io(task, meta, num_outputs)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with running_modules(graph) as running, warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the tracer's warnings are about Python values the graphs do not use
        try:
            torch.onnx.export(
                graph,
                (example,),
                out,
                dynamo=False,
                opset_version=opset,
                input_names=[in_name],
                output_names=out_names,
                dynamic_axes=axes,
                do_constant_folding=True,
            )
        except Exception as exc:
            raise export_error(graph, prefix, locate_failure(graph, (example,), exc, running), exc) from exc
    meta.update(
        task=task,
        input_name=in_name,
        outputs=out_names,
        batch='dynamic' if task != 'detector' else 1,
        fp16=fp16,
        fused=fused,
        opset=opset,
        dataset_meta=dataset_meta,
    )
    if verify:
        meta['verified'] = verify_export(graph, prefix, out, task, shape, in_name, fp16)
    proto = onnx.load(out)
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(meta)})
    onnx.save(proto, out)
    return meta


def verify_export(graph: nn.Module, prefix: str, path: str, task: str, shape, in_name: str, fp16: bool) -> dict:
    """The file in onnxruntime against ``graph`` in PyTorch at a size (and batch) other than the traced one.

    A part that computes with sizes the tracer recorded as constants (Python numbers taken from tensor
    shapes) exports without an error but only works at the traced size; this catches it.

    Returns:
        ``dict(size=[N, 3, H, W], max_rel_err)`` (dense outputs) or ``dict(size, detections, matched)``.

    Raises:
        ConfigError: onnxruntime fails at that size (naming the part of the failing node), or the results differ.
    """
    import onnxruntime as ort

    from .compare import match_detections, relative_error

    batch = 1 if task == 'detector' else 2
    size = (batch, 3, shape[0] + 37, shape[1] + 53)  # another size, not a multiple of 32
    x = (
        _verification_images(size)
        if task != 'backbone'
        else torch.randn(size, generator=torch.Generator().manual_seed(0))
    )
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    try:
        got = session.run(None, {in_name: x.numpy()})
    except Exception as exc:  # onnxruntime's errors name the node: '/detector/backbone/.../Reshape'
        node = re.search(r"Name:'/([^']+)'", str(exc))
        path_ = node.group(1).rsplit('/', 1)[0].replace('/', '.').split('.') if node else []
        raise export_error(graph, prefix, _module_path(graph, path_), exc, at=f'{size[2]}x{size[3]}') from exc
    if fp16:  # the float16 layers are not run in PyTorch on the CPU: that the file runs at the size is checked
        return dict(size=list(size))
    with torch.no_grad():
        expected = graph(x)
    if task == 'detector':
        names = ('bboxes', 'scores', 'labels', 'masks')
        result = match_detections(dict(zip(names, got)), dict(zip(names, expected)))
        ok = result['matched'] == result['ref'] == result['out']
        detail, report = f'{result}', dict(detections=result['ref'], matched=result['matched'])
    else:
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        error = max(relative_error(g, e) for g, e in zip(got, expected))
        ok, detail, report = error <= 1e-3, f'largest relative difference {error:.2g}', dict(max_rel_err=error)
    if not ok:
        raise ConfigError(
            f"export: the graph traced at {shape[0]}x{shape[1]} does not give PyTorch's results at "
            f'{size[2]}x{size[3]} ({detail}): a part computes with sizes fixed at export (Python numbers from '
            f'tensor shapes). Export at the size you will run (--shape H W) and feed only that size, or change '
            f'that part.'
        )
    return dict(size=list(size), **report)


def _verification_images(size) -> torch.Tensor:
    """Images (0..255) of solid rectangles on noise: something for a trained detector to detect, unlike noise."""
    g = torch.Generator().manual_seed(0)
    images = torch.rand(size, generator=g) * 60
    n, _, h, w = size
    for i in range(n):
        for _ in range(6):
            y, x = (torch.rand(2, generator=g) * torch.tensor([h * 0.7, w * 0.7])).long().tolist()
            dy, dx = (torch.rand(2, generator=g) * torch.tensor([h * 0.4, w * 0.4]) + 12).long().tolist()
            images[i, :, y : y + dy, x : x + dx] = torch.rand(3, 1, 1, generator=g) * 200 + 55
    return images


def _module_path(graph: nn.Module, names) -> Optional[str]:
    """The longest prefix of an ONNX node's scope names that is a submodule of ``graph``."""
    for end in range(len(names), 0, -1):
        candidate = '.'.join(names[:end])
        try:
            graph.get_submodule(candidate)
            return candidate
        except AttributeError:
            continue
    return None


def read_metadata(path: str) -> dict:
    """The metadata :func:`export_onnx` wrote into an ONNX file."""
    import onnx

    if not osp.isfile(path):
        raise MissingFileError(f'ONNX file {path!r} does not exist')
    proto = onnx.load(path, load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    if METADATA_KEY not in props:
        raise ConfigError(f'{path!r} was not written by tools/export.py (no {METADATA_KEY!r} metadata)')
    return json.loads(props[METADATA_KEY])
