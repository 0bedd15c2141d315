"""A segmentor (mmseg's ``EncoderDecoder``: UperNet and the like) as a graph, and the host's share of its inference.

The graph is ``EncoderDecoder.encode_decode`` behind the preprocessing: image -> backbone (-> neck) ->
decode head -> logits resized (bilinear) to the input's size, for any batch and size. mmseg's two test
modes use it as they use ``encode_decode``:

* ``whole``: one call on the image;
* ``slide``: :func:`slide_inference` cuts the crops, runs them (equal-sized crops in one batch) and
  averages the overlaps, as ``EncoderDecoder.slide_inference`` does. The window loop depends on the
  image size and stays on the host; cropping commutes with the per-pixel preprocessing, so the crops are
  cut from the raw image.

:func:`seg_postprocess` is ``EncoderDecoder.postprocess_result`` (resize to the original size, arg-max)
for the runtime's logits.
"""

from typing import Callable, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .preprocess import Preprocess


class SegmentorGraph(nn.Module):
    """Preprocessing, ``encode_decode`` and the resize of the logits to the input size.

    Args:
        segmentor: an mmseg ``EncoderDecoder`` in eval mode.
        preprocess: its test-time preprocessing.
        dtype: the segmentor's parameter dtype; logits come out as float32.
    """

    def __init__(self, segmentor: nn.Module, preprocess: Preprocess, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.segmentor = segmentor
        self.preprocess = preprocess
        self.dtype = dtype
        self.align_corners = segmentor.decode_head.align_corners

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.preprocess(image)
        logits = self.segmentor.decode_head(self.segmentor.extract_feat(x.to(self.dtype))).float()
        return F.interpolate(logits, size=x.shape[2:], mode='bilinear', align_corners=self.align_corners)


def slide_windows(height: int, width: int, crop: Sequence[int], stride: Sequence[int]) -> list:
    """The ``(y1, y2, x1, x2)`` windows of mmseg's slide inference over an image of that size.

    Example:
        >>> slide_windows(128, 200, crop=(128, 128), stride=(85, 85))
        [(0, 128, 0, 128), (0, 128, 72, 200)]
    """
    (h_crop, w_crop), (h_stride, w_stride) = crop, stride
    h_grids = max(height - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(width - w_crop + w_stride - 1, 0) // w_stride + 1
    windows = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y2 = min(h_idx * h_stride + h_crop, height)
            x2 = min(w_idx * w_stride + w_crop, width)
            windows.append((max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2))
    return windows


def slide_inference(
    run: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    num_classes: int,
    crop: Sequence[int],
    stride: Sequence[int],
) -> np.ndarray:
    """mmseg's sliding-window inference with ``run`` (a batch of crops -> their logits) as ``encode_decode``.

    Args:
        run: maps an (n, 3, h, w) float32 batch of crops to (n, num_classes, h, w) logits.
        image: the (1, 3, H, W) float32 image.
        num_classes: channels of the logits.
        crop: (height, width) of a window.
        stride: (height, width) steps between windows.

    Returns:
        (1, num_classes, H, W) logits, each pixel the mean of the windows covering it.
    """
    _, _, height, width = image.shape
    windows = slide_windows(height, width, crop, stride)
    logits = np.zeros((1, num_classes, height, width), np.float32)
    count = np.zeros((1, 1, height, width), np.float32)
    by_shape = {}
    for window in windows:  # equal-sized crops run as one batch
        y1, y2, x1, x2 = window
        by_shape.setdefault((y2 - y1, x2 - x1), []).append(window)
    for group in by_shape.values():
        crops = np.concatenate([image[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in group])
        for (y1, y2, x1, x2), out in zip(group, run(crops)):
            logits[0, :, y1:y2, x1:x2] += out
            count[0, :, y1:y2, x1:x2] += 1
    return logits / count


def seg_postprocess(
    logits: torch.Tensor, ori_shape: Tuple[int, int], align_corners: bool, threshold: float = 0.3
) -> Tuple[torch.Tensor, torch.Tensor]:
    """``EncoderDecoder.postprocess_result`` for one image without padding or flip.

    Args:
        logits: (1, C, h, w) logits at the resized image's size.
        ori_shape: (height, width) of the original image.
        align_corners: the decode head's ``align_corners``.
        threshold: the decode head's ``threshold`` (one-channel heads).

    Returns:
        ``(seg_logits, pred)``: (C, H, W) logits resized to the original size and the (1, H, W) labels.
    """
    logits = F.interpolate(logits, size=tuple(ori_shape), mode='bilinear', align_corners=align_corners).squeeze(0)
    if logits.shape[0] > 1:
        return logits, logits.argmax(dim=0, keepdim=True)
    logits = logits.sigmoid()
    return logits, (logits > threshold).to(logits)
