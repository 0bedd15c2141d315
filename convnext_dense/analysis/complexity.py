"""FLOPs and parameters of a config's model, for ``tools/flops.py`` and the benchmark's whole models.

mmdet and mmseg models need data samples (image shapes) to run; this builds them for one image of a
given size, as mmdet's and mmseg's ``get_flops.py`` do from a real dataset, so no data is needed.

Cascade R-CNN: mmdet 3.3's ``CascadeRoIHead.forward`` (the traced 'tensor' mode) runs all three mask
heads on every RPN proposal (1000), about 3x the model's real cost. Inference (at most 100 boxes get
masks), mmdet 2.x's ``forward_dummy`` (which the paper's FLOPs come from) and mmdet 3.3's own
``StandardRoIHead.forward`` all use at most 100 mask RoIs; :func:`_cascade_forward` does the same.
"""

import types
from functools import partial
from typing import Optional, Sequence

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.registry import init_default_scope

DEFAULT_SHAPES = {'mmdet': (1280, 800), 'mmseg': (2048, 512)}


def build_model(cfg: Config) -> torch.nn.Module:
    """Build ``cfg.model`` in the config's scope without loading pretrained weights."""
    scope = cfg.get('default_scope') or 'mmengine'
    init_default_scope(scope)
    model_cfg = cfg.model.copy()
    backbone = model_cfg.get('backbone')
    if backbone is not None and backbone.get('init_cfg') is not None:
        backbone = backbone.copy()
        backbone['init_cfg'] = None
        model_cfg['backbone'] = backbone
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    return registry.build(model_cfg)


def _data_samples(scope: str, h: int, w: int):
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), batch_input_shape=(h, w), scale_factor=(1.0, 1.0))
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample

        return [DetDataSample(metainfo=meta)]
    if scope == 'mmseg':
        from mmseg.structures import SegDataSample

        return [SegDataSample(metainfo=meta)]
    return None


def model_complexity(cfg: Config, shape: Optional[Sequence[int]] = None) -> dict:
    """Return ``dict(flops, params, backbone_flops, backbone_params, shape=(w, h))`` for one image."""
    scope = cfg.get('default_scope') or 'mmengine'
    w, h = shape or DEFAULT_SHAPES.get(scope, (224, 224))
    model = build_model(cfg).eval()
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is not None and type(roi_head).__name__ == 'CascadeRoIHead' and roi_head.with_mask:
        roi_head.forward = types.MethodType(_cascade_forward, roi_head)
    inputs = torch.zeros(1, 3, h, w)
    samples = _data_samples(scope, h, w)
    forward = (
        partial(model.forward, data_samples=samples, mode='tensor')
        if samples is not None
        else partial(model.forward, mode='tensor')
    )
    wrapper = _Call(forward)
    with torch.no_grad():
        flops = FlopAnalyzer(wrapper, (inputs,)).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        total = flops.total()
        backbone = getattr(model, 'backbone', None)
        bb_flops = FlopAnalyzer(backbone, (inputs,)).unsupported_ops_warnings(False).total() if backbone else 0
    return dict(
        flops=total,
        params=sum(p.numel() for p in model.parameters()),
        backbone_flops=bb_flops,
        backbone_params=sum(p.numel() for p in backbone.parameters()) if backbone else 0,
        shape=(w, h),
    )


class _Call(torch.nn.Module):
    """Lets the analyzer trace a bound forward with fixed keyword arguments."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.model = fn.func.__self__

    def forward(self, inputs):
        return self.fn(inputs)


def _cascade_forward(self, x, rpn_results_list, batch_data_samples):
    """CascadeRoIHead.forward with the mask heads on the first 100 RoIs (see the module docstring)."""
    from mmdet.structures.bbox import bbox2roi

    metas = [sample.metainfo for sample in batch_data_samples]
    proposals = [result.bboxes for result in rpn_results_list]
    rois, cls_scores, bbox_preds = self._refine_roi(x, bbox2roi(proposals), metas, tuple(len(p) for p in proposals))
    mask_rois = torch.cat(rois)[:100]
    masks = tuple(self._mask_forward(stage, x, mask_rois)['mask_preds'] for stage in range(self.num_stages))
    return (cls_scores, bbox_preds) + masks
