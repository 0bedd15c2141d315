"""The graphs' operators: PyTorch's (mmcv's, mmengine's) results in onnxruntime, for sizes unknown at export."""

import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn
from mmcv.ops import RoIAlign
from mmcv.ops import nms as mmcv_nms
from mmengine.model.utils import stack_batch

from convnext_dense.deploy import ops


class _Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def onnx_run(fn, examples, runs, tmp_path, dynamic=None):
    """Export ``fn`` traced on ``examples`` with every axis of every input dynamic; run it on each of ``runs``."""
    names = [f'in{i}' for i in range(len(examples))]
    axes = {n: {d: f'{n}_{d}' for d in range(x.dim())} for n, x in zip(names, examples)}
    path = str(tmp_path / 'op.onnx')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the tracer's notes on mmcv's asserts
        torch.onnx.export(
            _Fn(fn), tuple(examples), path, dynamo=False, opset_version=17, input_names=names, dynamic_axes=axes
        )
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    return [session.run(None, {n: x.numpy() for n, x in zip(names, inputs)}) for inputs in runs]


@pytest.mark.parametrize('divisor', [1, 32])
def test_pad_to_multiple_is_mmengines_padding_for_any_size(tmp_path, divisor):
    sizes = [(40, 50), (64, 33), (31, 96)]
    images = [torch.rand(3, h, w) for h, w in sizes]
    outs = onnx_run(
        lambda x: ops.pad_to_multiple(x, divisor, 0.0), [images[0][None]], [[x[None]] for x in images], tmp_path
    )
    for image, (out,) in zip(images, outs):
        expected = stack_batch([image], divisor, 0)
        assert out.shape == tuple(expected.shape)
        np.testing.assert_array_equal(out, expected.numpy())
        np.testing.assert_array_equal(ops.pad_to_multiple(image[None], divisor).numpy(), expected.numpy())


def test_topk_takes_at_most_the_length(tmp_path):
    values = [torch.rand(n) for n in (8, 3, 0, 20)]
    outs = onnx_run(lambda x: ops.topk(x, 5), [values[0]], [[v] for v in values], tmp_path)
    for v, (top, index) in zip(values, outs):
        expected = v.topk(min(5, len(v)))
        np.testing.assert_array_equal(top, expected.values.numpy())
        np.testing.assert_array_equal(index, expected.indices.numpy())


def _boxes(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 40 + 2
    return torch.cat([xy, xy + wh], dim=1)


def test_nms_keeps_what_mmcv_keeps_in_score_order(tmp_path):
    runs = [
        (_boxes(n, seed), torch.rand(n, generator=torch.Generator().manual_seed(seed)))
        for n, seed in [(60, 0), (200, 1), (1, 2), (0, 3)]
    ]
    outs = onnx_run(lambda b, s: ops.nms_sorted(b, s, 0.5, 30), runs[0], runs, tmp_path)
    for (boxes, scores), (keep,) in zip(runs, outs):
        expected = mmcv_nms(boxes, scores, 0.5)[1][:30]
        np.testing.assert_array_equal(keep, expected.numpy())
        assert list(ops.nms_sorted(boxes, scores, 0.5, 30)) == list(expected)


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
def test_roi_align_is_mmcvs(tmp_path, aligned, sampling_ratio):
    layer = RoIAlign(7, spatial_scale=1 / 8, sampling_ratio=sampling_ratio, aligned=aligned)
    feats = torch.randn(1, 4, 20, 24)
    # boxes of all sizes, some smaller than a feature pixel, some partly outside the image
    boxes = torch.cat([_boxes(30, 0) * 1.8 - 20, torch.tensor([[10.0, 10.0, 12.0, 11.0], [0.0, 0.0, 300.0, 300.0]])])
    rois = torch.cat([torch.zeros(len(boxes), 1), boxes], dim=1)
    runs = [(feats, rois), (torch.randn(1, 4, 9, 33), rois[:5]), (feats, rois[:0])]
    outs = onnx_run(lambda f, r: ops.roi_align(f, r, layer), runs[0], runs, tmp_path)
    for (f, r), (out,) in zip(runs, outs):
        expected = layer(f, r)
        assert out.shape == tuple(expected.shape)
        np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('output_size', [(3, 2), (6, 6), 1])
def test_adaptive_avg_pool_is_torchs_for_any_size(tmp_path, output_size):
    pool = ops.AdaptiveAvgPool2d(output_size)
    inputs = [torch.randn(2, 3, h, w) for h, w in [(5, 7), (4, 4), (12, 9), (1, 1)]]
    outs = onnx_run(pool, [inputs[0]], [[x] for x in inputs], tmp_path)
    for x, (out,) in zip(inputs, outs):
        expected = nn.AdaptiveAvgPool2d(output_size)(x)
        np.testing.assert_allclose(pool(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_dynamic_adaptive_pools_swaps_only_the_non_global_pools():
    model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Sequential(nn.AdaptiveAvgPool2d(3)), nn.AdaptiveAvgPool2d((2, 2)))
    assert ops.dynamic_adaptive_pools(model) == 2
    assert [type(m).__name__ for m in (model[0], model[1][0], model[2])] == [
        'AdaptiveAvgPool2d',
        'AdaptiveAvgPool2d',
        'AdaptiveAvgPool2d',
    ]
    assert type(model[0]) is nn.AdaptiveAvgPool2d and type(model[1][0]) is ops.AdaptiveAvgPool2d
