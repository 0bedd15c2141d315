"""FLOPs and parameters of a config's model, for ``tools/flops.py`` and the benchmarks.

mmdet and mmseg models need data samples (image shapes) to run; this builds them for one image of a
given size, as mmdet's and mmseg's ``get_flops.py`` do from a real dataset, so no data is needed.
"""
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
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), batch_input_shape=(h, w),
                scale_factor=(1.0, 1.0))
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
    inputs = torch.zeros(1, 3, h, w)
    samples = _data_samples(scope, h, w)
    forward = partial(model.forward, data_samples=samples, mode='tensor') if samples is not None \
        else partial(model.forward, mode='tensor')
    wrapper = _Call(forward)
    with torch.no_grad():
        flops = FlopAnalyzer(wrapper, (inputs,)).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        total = flops.total()
        backbone = getattr(model, 'backbone', None)
        bb_flops = FlopAnalyzer(backbone, (inputs,)).unsupported_ops_warnings(False).total() if backbone else 0
    return dict(flops=total, params=sum(p.numel() for p in model.parameters()),
                backbone_flops=bb_flops,
                backbone_params=sum(p.numel() for p in backbone.parameters()) if backbone else 0,
                shape=(w, h))


class _Call(torch.nn.Module):
    """Lets the analyzer trace a bound forward with fixed keyword arguments."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.model = fn.func.__self__

    def forward(self, inputs):
        return self.fn(inputs)
