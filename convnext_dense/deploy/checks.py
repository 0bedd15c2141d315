"""What blocks an export, said as the config key to change: checks before tracing, and the failing part after.

:func:`check_exportable` knows what the graphs of :mod:`.detector` and :mod:`.segmentor` rewrite and refuses
anything else by name (a RoIPool layer, Soft-NMS, a head type without a rewrite), with the config key.
Parts the graphs only call (backbones, necks, heads' layers) are traced as they are; when one of them does
not trace or uses an operator without an ONNX form, :func:`locate_failure` finds the part from the module
that was running (an error in Python) or from the TorchScript scope of the operator (an error in the
conversion), and :func:`export_error` turns it into a :class:`~convnext_dense.errors.ConfigError`.
"""

import contextlib
import re
from typing import Iterator, List, Optional

import torch
import torch.nn as nn

from ..errors import ConfigError

__all__ = ['check_exportable', 'export_error', 'running_modules', 'locate_failure']

# The model's parts as its config names them; roi_head's are one level further down.
_NESTED_PARTS = ('roi_head',)


def _fail(key: str, what: str, fix: str):
    raise ConfigError(f'export: {key} {what}; {fix}')


def _stage_key(cfg_value, key: str, stage: int) -> str:
    """``key[stage]`` when the config gives one dict per stage, else ``key`` (one dict for all stages)."""
    return f'{key}[{stage}]' if isinstance(cfg_value, (list, tuple)) else key


def check_exportable(cfg, model: nn.Module, task: str) -> None:
    """Raise a :class:`ConfigError` naming the config key of the first part the ``task`` graph cannot export.

    Args:
        cfg: the config the model was built from.
        model: the built model.
        task: ``'detector'``, ``'segmentor'``, ``'classifier'`` or ``'backbone'``.
    """
    if task == 'detector':
        _check_detector(cfg.model, model)
    elif task == 'segmentor':
        _check_segmentor(cfg.model, model)


def _check_segmentor(mcfg, model: nn.Module) -> None:
    from mmseg.models.segmentors import EncoderDecoder

    if type(model) is not EncoderDecoder:
        _fail(
            'model.type',
            f'is {type(model).__name__}; the ONNX export covers EncoderDecoder (UperNet and other one-stage decoders)',
            "use type='EncoderDecoder' or export the backbone alone (--part backbone)",
        )
    mode = model.test_cfg.get('mode', 'whole')
    if mode not in ('whole', 'slide'):
        _fail('model.test_cfg.mode', f'is {mode!r}', "use 'whole' or 'slide'")


def _check_detector(mcfg, model: nn.Module) -> None:
    from mmdet.models.dense_heads import RPNHead
    from mmdet.models.detectors import TwoStageDetector
    from mmdet.models.roi_heads import CascadeRoIHead, StandardRoIHead
    from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
    from mmdet.models.task_modules.prior_generators import AnchorGenerator

    if not isinstance(model, TwoStageDetector) or not model.with_rpn:
        _fail(
            'model.type',
            f'is {type(model).__name__}; the ONNX export covers two-stage detectors with an RPN '
            f'(Mask R-CNN, Cascade Mask R-CNN, Faster R-CNN)',
            'export the backbone alone with --part backbone',
        )
    rpn = model.rpn_head
    if type(rpn) is not RPNHead:
        _fail('model.rpn_head.type', f'is {type(rpn).__name__}', "use type='RPNHead'")
    if type(rpn.prior_generator) is not AnchorGenerator:
        _fail(
            'model.rpn_head.anchor_generator.type', f'is {type(rpn.prior_generator).__name__}', "use 'AnchorGenerator'"
        )
    if type(rpn.bbox_coder) is not DeltaXYWHBBoxCoder:
        _fail('model.rpn_head.bbox_coder.type', f'is {type(rpn.bbox_coder).__name__}', "use 'DeltaXYWHBBoxCoder'")
    _check_nms(model.rpn_head.test_cfg, 'model.test_cfg.rpn')
    roi_head = model.roi_head
    if type(roi_head) not in (StandardRoIHead, CascadeRoIHead):
        _fail(
            'model.roi_head.type',
            f'is {type(roi_head).__name__}',
            "use 'StandardRoIHead' (Mask R-CNN) or 'CascadeRoIHead' (Cascade Mask R-CNN)",
        )
    if roi_head.with_shared_head:
        _fail('model.roi_head.shared_head', 'is set (a ResNet C4 head)', 'use an FPN neck and no shared head')
    _check_nms(roi_head.test_cfg, 'model.test_cfg.rcnn')
    rcfg = mcfg.roi_head
    cascade = isinstance(roi_head, CascadeRoIHead)
    stages = range(roi_head.num_stages) if cascade else [None]
    for stage in stages:

        def pick(modules, stage=stage):
            return modules[stage] if cascade else modules

        bbox_key = _stage_key(rcfg.get('bbox_head'), 'model.roi_head.bbox_head', stage)
        _check_extractor(
            pick(roi_head.bbox_roi_extractor),
            _stage_key(rcfg.get('bbox_roi_extractor'), 'model.roi_head.bbox_roi_extractor', stage),
        )
        _check_bbox_head(pick(roi_head.bbox_head), bbox_key, DeltaXYWHBBoxCoder)
        if roi_head.with_mask:
            mask_key = _stage_key(rcfg.get('mask_head'), 'model.roi_head.mask_head', stage)
            _check_mask_head(pick(roi_head.mask_head), mask_key)
            if not roi_head.share_roi_extractor:
                extractor_key = _stage_key(rcfg.get('mask_roi_extractor'), 'model.roi_head.mask_roi_extractor', stage)
                _check_extractor(pick(roi_head.mask_roi_extractor), extractor_key)


def _check_nms(test_cfg, key: str) -> None:
    nms = (test_cfg or {}).get('nms', {})
    kind = nms.get('type', 'nms')
    if kind != 'nms':
        _fail(f'{key}.nms.type', f'is {kind!r}, which has no standard ONNX operator', "use type='nms'")
    if nms.get('offset', 0) != 0:
        _fail(f'{key}.nms.offset', f'is {nms["offset"]} (boxes of width x2 - x1 + 1)', 'use 0, as ONNX does')


def _check_extractor(extractor: nn.Module, key: str) -> None:
    from mmcv.ops import RoIAlign
    from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor

    if type(extractor) is not SingleRoIExtractor:
        _fail(f'{key}.type', f'is {type(extractor).__name__}', "use 'SingleRoIExtractor'")
    layer = extractor.roi_layers[0]
    if not isinstance(layer, RoIAlign):
        _fail(
            f'{key}.roi_layer.type', f'is {type(layer).__name__}, which has no standard ONNX operator', "use 'RoIAlign'"
        )
    if layer.pool_mode != 'avg':
        _fail(f'{key}.roi_layer.pool_mode', f'is {layer.pool_mode!r}', "use 'avg' (onnxruntime's max mode differs)")


def _check_bbox_head(head: nn.Module, key: str, coder_type) -> None:
    if not getattr(head, 'with_reg', False) or not getattr(head, 'with_cls', False):
        _fail(key, 'has no box classifier or regressor', 'use a head with both (with_cls=True, with_reg=True)')
    if head.custom_cls_channels or head.custom_activation:
        _fail(f'{key}.loss_cls', f'({type(head.loss_cls).__name__}) changes the score activation', 'use a softmax loss')
    if type(head.bbox_coder) is not coder_type:
        _fail(f'{key}.bbox_coder.type', f'is {type(head.bbox_coder).__name__}', "use 'DeltaXYWHBBoxCoder'")


def _check_mask_head(head: nn.Module, key: str) -> None:
    from mmdet.models.roi_heads.mask_heads import FCNMaskHead

    if not isinstance(head, FCNMaskHead) or type(head).predict_by_feat is not FCNMaskHead.predict_by_feat:
        _fail(f'{key}.type', f'is {type(head).__name__}', "use 'FCNMaskHead'")


@contextlib.contextmanager
def running_modules(model: nn.Module) -> Iterator[List[str]]:
    """The names of the submodules whose ``forward`` is running, outermost first, while the block runs.

    After an exception the list still holds the modules that were running when it was raised.
    """
    stack: List[str] = []

    def enter(name):
        return lambda module, args: stack.append(name)  # returns None: the input is unchanged

    def leave(module, args, output):
        stack.pop()  # and None: the output is unchanged

    handles = []
    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_pre_hook(enter(name)))
            handles.append(module.register_forward_hook(leave))
    try:
        yield stack
    finally:
        for handle in handles:
            handle.remove()


def _op_scope(graph: nn.Module, example, op: str) -> Optional[str]:
    """The module path of the first ``op`` node in a TorchScript trace of ``graph``, if it has one."""
    traced = torch.jit.trace(graph, example, check_trace=False)
    for node in traced.inlined_graph.nodes():
        if node.kind() == op:  # scope: '__module.a/__module.a.b', the path of each enclosing module
            return node.scopeName().split('/')[-1].replace('__module.', '') or None
    return None


def locate_failure(graph: nn.Module, example, exc: BaseException, running: List[str]) -> Optional[str]:
    """The module path of ``graph`` where an export failed: the innermost running module, else the scope of
    the operator the exporter could not convert."""
    if running:
        return running[-1]
    match = re.search(r"operator '?([\w:.]+)'?", str(exc))
    if match:
        op = match.group(1) if '::' in match.group(1) else f'aten::{match.group(1)}'
        try:
            return _op_scope(graph, example, op)
        except Exception:  # a second failure must not hide the first
            return None
    return None


def _part(model_prefix: str, path: str) -> str:
    """``'detector.roi_head.bbox_head.1.fc_cls'`` -> ``'roi_head.bbox_head.1'``: the part a config names."""
    names = path.split('.')
    if model_prefix and names and names[0] == model_prefix:
        names = names[1:]
    depth = 2 if names and names[0] in _NESTED_PARTS else 1
    if len(names) > depth and names[depth].isdigit():
        depth += 1
    return '.'.join(names[:depth])


def export_error(
    graph: nn.Module, model_prefix: str, path: Optional[str], exc: BaseException, at: Optional[str] = None
) -> ConfigError:
    """The :class:`ConfigError` for an export that failed in module ``path`` of ``graph`` (None: unknown).

    ``at``: the input size at which the exported file failed in onnxruntime (None: the export itself failed).
    """
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if at:
        reason = (
            f'the file fails in onnxruntime at {at}, another size than the traced one, so it computes with sizes '
            f'fixed at export ({reason[:300]})'
        )
    if not path:
        what = reason if at else f'the ONNX exporter failed ({reason})'
        return ConfigError(f'export: {what}; export the backbone alone with --part backbone')
    part = _part(model_prefix, path)
    module = graph.get_submodule(f'{model_prefix}.{part}' if model_prefix else part)
    key = 'model.' + re.sub(r'\.(\d+)', r'[\1]', part)
    return ConfigError(
        f'export: {key} ({type(module).__name__}) cannot be exported to ONNX: {reason}; change {key}.type to a '
        f'part that traces with standard ONNX operators, or export the backbone alone with --part backbone'
    )
