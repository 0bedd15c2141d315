"""The operators the exported graphs need beyond plain tensor maths: as PyTorch computes them, as ONNX spells them.

Each is a :class:`torch.autograd.Function` whose ``forward`` is the PyTorch computation (mmcv's kernels, as
mmdet calls them) and whose ``symbolic`` writes standard ONNX operators for torch's TorchScript-based
exporter (``torch.onnx.export(..., dynamo=False)``), the mechanism of mmcv's own ``RoIAlign.symbolic``.
Standard operators only, so that any ONNX runtime (onnxruntime's CPU, CUDA and TensorRT providers) runs
the graphs without a custom-op library:

* :func:`pad_to_multiple`: ``Pad`` with the pads computed from the input's ``Shape`` (dynamic sizes);
* :func:`topk`: ``TopK`` with ``K = min(k, length)`` computed in the graph;
* :func:`nms`: ``NonMaxSuppression`` on one class;
* :func:`roi_align`: ``RoiAlign`` of opset 16, whose ``half_pixel`` mode is mmcv's ``aligned=True``;
* :class:`AdaptiveAvgPool2d`: ``nn.AdaptiveAvgPool2d`` for inputs of any size (the exporter writes it
  only for sizes known at export time), as two products with bin-averaging matrices.

Ours, not mmcv's: mmcv 2.x's ``nms`` has no symbolic, and its ``RoIAlign.symbolic`` subtracts the half-pixel
offset itself for opset 10, which opset 16's default ``half_pixel`` mode would subtract a second time.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.ops import nms as mmcv_nms
from mmcv.ops import roi_align as mmcv_roi_align
from torch.onnx import TensorProtoDataType

__all__ = ['pad_to_multiple', 'topk', 'nms', 'nms_sorted', 'roi_align', 'image_size', 'AdaptiveAvgPool2d']

# NonMaxSuppression needs a number of boxes to keep per class; this stands for "all of them".
_ALL = 2**31 - 1


def _const(g, value, dtype=torch.int64):
    return g.op('Constant', value_t=torch.tensor(value, dtype=dtype))


class _PadToMultiple(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, divisor: int, value: float) -> torch.Tensor:
        h, w = x.shape[-2:]
        return F.pad(x, (0, -w % divisor, 0, -h % divisor), value=value)

    @staticmethod
    def symbolic(g, x, divisor, value):
        hw = g.op('Shape', x, start_i=2, end_i=4)
        d = _const(g, [divisor, divisor])
        pad_hw = g.op('Mod', g.op('Sub', d, g.op('Mod', hw, d)), d)  # (d - h % d) % d, with h % d >= 0
        pads = g.op('Concat', _const(g, [0] * 6), pad_hw, axis_i=0)  # begins of N,C,H,W; ends of N,C; ends of H,W
        return g.op('Pad', x, pads, _const(g, value, torch.float32), mode_s='constant')


def pad_to_multiple(x: torch.Tensor, divisor: int, value: float = 0.0) -> torch.Tensor:
    """Pad an NCHW float32 tensor at the bottom and right to height and width that ``divisor`` divides.

    As mmengine's ``stack_batch`` pads a single image: ``pad_to_multiple(torch.ones(1, 3, 5, 7), 4).shape``
    is ``(1, 3, 8, 8)``.
    """
    if divisor <= 1:
        return x
    return _PadToMultiple.apply(x, int(divisor), float(value))


class _TopK(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, k: int):
        return x.topk(min(k, x.shape[0]), sorted=True)

    @staticmethod
    def symbolic(g, x, k):
        length = g.op('Shape', x, start_i=0, end_i=1)
        return g.op('TopK', x, g.op('Min', length, _const(g, [k])), axis_i=0, largest_i=1, sorted_i=1, outputs=2)


def topk(x: torch.Tensor, k: int):
    """The ``min(k, len(x))`` largest values of a 1-D tensor, sorted, and their indices (``k`` <= 0: all)."""
    return _TopK.apply(x, _ALL if k <= 0 else int(k))


class _NMS(torch.autograd.Function):
    @staticmethod
    def forward(ctx, boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, max_num: int):
        keep = mmcv_nms(boxes, scores, iou_threshold)[1]  # mmdet's batched_nms calls this op
        return keep[:max_num]

    @staticmethod
    def symbolic(g, boxes, scores, iou_threshold, max_num):
        selected = g.op(
            'NonMaxSuppression',
            g.op('Unsqueeze', boxes, _const(g, [0])),  # (1, N, 4): one batch
            g.op('Unsqueeze', scores, _const(g, [0, 1])),  # (1, 1, N): one class
            _const(g, [max_num]),
            _const(g, [iou_threshold], torch.float32),
            center_point_box_i=0,
        )
        return g.op('Gather', selected, _const(g, 2), axis_i=1)  # (class, batch, box) -> box


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, max_num: int = -1) -> torch.Tensor:
    """Indices of the boxes greedy NMS keeps, by descending score, at most ``max_num`` (<= 0: all).

    mmcv's NMS (offset 0): a box is dropped when its IoU with a kept, higher-scoring box exceeds
    ``iou_threshold``. onnxruntime's NonMaxSuppression selects in score order too; :func:`nms_sorted`
    sorts its output explicitly, since the ONNX standard does not fix the order.
    """
    return _NMS.apply(boxes, scores, float(iou_threshold), _ALL if max_num <= 0 else int(max_num))


def nms_sorted(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, max_num: int = -1) -> torch.Tensor:
    """:func:`nms`, its indices sorted by descending score (a no-op in PyTorch; any runtime's order in ONNX)."""
    keep = nms(boxes, scores, iou_threshold, max_num)
    return keep[topk(scores[keep], -1)[1]]


class _RoIAlign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, feats, rois, output_size, spatial_scale, sampling_ratio, aligned):
        return mmcv_roi_align(feats, rois, output_size, spatial_scale, sampling_ratio, 'avg', aligned)

    @staticmethod
    def symbolic(g, feats, rois, output_size, spatial_scale, sampling_ratio, aligned):
        batch = g.op('Cast', g.op('Gather', rois, _const(g, 0), axis_i=1), to_i=TensorProtoDataType.INT64)
        boxes = g.op('Gather', rois, _const(g, [1, 2, 3, 4]), axis_i=1)
        return g.op(
            'RoiAlign',
            feats,
            boxes,
            batch,
            coordinate_transformation_mode_s='half_pixel' if aligned else 'output_half_pixel',
            mode_s='avg',
            output_height_i=output_size[0],
            output_width_i=output_size[1],
            sampling_ratio_i=max(0, sampling_ratio),
            spatial_scale_f=spatial_scale,
        )


def roi_align(feats: torch.Tensor, rois: torch.Tensor, layer) -> torch.Tensor:
    """mmcv's average RoIAlign of ``rois`` (K, 5: image index, x1, y1, x2, y2) with the settings of ``layer``.

    Args:
        feats: (N, C, H, W) float32 features.
        rois: (K, 5) boxes in image coordinates.
        layer: an ``mmcv.ops.RoIAlign`` (``output_size``, ``spatial_scale``, ``sampling_ratio``, ``aligned``).

    Returns:
        (K, C, *output_size) pooled features.
    """
    size = tuple(layer.output_size) if isinstance(layer.output_size, (tuple, list)) else (layer.output_size,) * 2
    return _RoIAlign.apply(
        feats, rois, size, float(layer.spatial_scale), int(layer.sampling_ratio), bool(layer.aligned)
    )


def image_size(x: torch.Tensor) -> torch.Tensor:
    """``(height, width)`` of an NCHW tensor as a float tensor, a ``Shape`` in the graph (not constants)."""
    return torch._shape_as_tensor(x)[2:].to(torch.float32)


def _bin_matrix(line: torch.Tensor, bins: int) -> torch.Tensor:
    """(bins, L) weights of PyTorch's adaptive average pooling over a length-L axis (``line`` has that length).

    Bin ``i`` averages ``[floor(i L / bins), ceil((i + 1) L / bins))``, as ATen's ``start_index`` /
    ``end_index``; the float quotients are exact or at least 1 / bins away from an integer, so floor and
    ceil are exact.
    """
    ones = torch.ones_like(line, dtype=torch.float32)
    length, position = ones.sum(), ones.cumsum(0) - 1
    i = torch.arange(bins, dtype=torch.float32)[:, None]
    start, end = torch.floor(i * length / bins), torch.ceil((i + 1) * length / bins)
    inside = ((position[None] >= start) & (position[None] < end)).float()
    return inside / (end - start)


class AdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d`` whose ONNX form works for any input size: ``rows @ x @ cols.T``.

    Example:
        >>> x = torch.rand(2, 3, 5, 7)
        >>> torch.allclose(AdaptiveAvgPool2d((3, 2))(x), nn.AdaptiveAvgPool2d((3, 2))(x), atol=1e-6)
        True
    """

    def __init__(self, output_size):
        super().__init__()
        size = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
        self.output_size = tuple(int(s) for s in size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = _bin_matrix(x[0, 0, :, 0], self.output_size[0]).to(x.dtype)
        cols = _bin_matrix(x[0, 0, 0, :], self.output_size[1]).to(x.dtype)
        return rows @ x @ cols.t()


def dynamic_adaptive_pools(model: nn.Module) -> int:
    """Swap each ``nn.AdaptiveAvgPool2d`` of ``model`` with an output larger than 1 x 1 for
    :class:`AdaptiveAvgPool2d` (UperNet's pyramid pooling); returns how many."""
    swapped = 0
    for name, module in list(model.named_modules()):
        if type(module) is nn.AdaptiveAvgPool2d:
            size = module.output_size if isinstance(module.output_size, (tuple, list)) else (module.output_size,) * 2
            if tuple(size) != (1, 1):
                parent, _, child = name.rpartition('.')
                setattr(model.get_submodule(parent) if parent else model, child, AdaptiveAvgPool2d(size))
                swapped += 1
    return swapped
