"""How close an exported model's outputs are to PyTorch's: the measures the tests and the docs report.

* dense outputs (features, logits): the largest absolute difference over the largest reference magnitude;
* segmentation maps: the share of pixels with the same label;
* detections: a one-to-one matching (greedy by reference score, same label, IoU at least ``iou_thr``),
  then the score differences and the IoU of the matched masks.
"""

from typing import Optional

import numpy as np
import torch


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def relative_error(out, ref) -> float:
    """``max |out - ref| / max |ref|`` (0 for two all-zero arrays)."""
    out, ref = _np(out).astype(np.float64), _np(ref).astype(np.float64)
    if out.shape != ref.shape:
        raise ValueError(f'shapes differ: {out.shape} vs {ref.shape}')
    scale = np.abs(ref).max() if ref.size else 0.0
    diff = np.abs(out - ref).max() if ref.size else 0.0
    return float(diff / scale) if scale > 0 else float(diff)


def label_agreement(out, ref) -> float:
    """The share of equal entries of two label maps."""
    out, ref = _np(out), _np(ref)
    return float((out == ref).mean()) if ref.size else 1.0


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of x1y1x2y2 boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(-1)
    union = area_a[:, None] + area_b[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def mask_iou(a, b) -> float:
    """IoU of two binary masks (1 when both are empty)."""
    a, b = _np(a).astype(bool), _np(b).astype(bool)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def match_detections(out: dict, ref: dict, iou_thr: float = 0.99) -> dict:
    """Match detections one to one: each reference detection, by descending score, takes the unmatched
    detection of the same label with the highest box IoU, if that IoU is at least ``iou_thr``.

    Args:
        out: ``dict(bboxes, scores, labels[, masks])`` of the exported model.
        ref: the same of the PyTorch model.
        iou_thr: the smallest IoU of a match.

    Returns:
        ``dict(ref=N, out=M, matched=K, min_iou, max_score_diff, min_mask_iou)`` (the last three over the matches;
        ``min_mask_iou`` is None without masks).
    """
    rb, ob = _np(ref['bboxes']).reshape(-1, 4), _np(out['bboxes']).reshape(-1, 4)
    rs, os_ = _np(ref['scores']), _np(out['scores'])
    rl, ol = _np(ref['labels']), _np(out['labels'])
    ious = box_iou(rb, ob) if len(rb) and len(ob) else np.zeros((len(rb), len(ob)))
    taken = np.zeros(len(ob), bool)
    pairs = []
    for i in np.argsort(-rs, kind='stable'):
        candidates = np.where(~taken & (ol == rl[i]), ious[i], -1.0)
        j = int(candidates.argmax()) if len(ob) else -1
        if j >= 0 and candidates[j] >= iou_thr:
            taken[j] = True
            pairs.append((int(i), j))
    result = dict(ref=len(rb), out=len(ob), matched=len(pairs), min_iou=None, max_score_diff=None, min_mask_iou=None)
    if pairs:
        result['min_iou'] = float(min(ious[i, j] for i, j in pairs))
        result['max_score_diff'] = float(max(abs(rs[i] - os_[j]) for i, j in pairs))
        if ref.get('masks') is not None and out.get('masks') is not None:
            result['min_mask_iou'] = min(mask_iou(out['masks'][j], ref['masks'][i]) for i, j in pairs)
    return result


def detections_match(result: dict, score_tol: float = 1e-3, mask_iou_thr: Optional[float] = 0.99) -> bool:
    """Whether a :func:`match_detections` result is a full match within the tolerances."""
    full = result['matched'] == result['ref'] == result['out']
    if not full or result['matched'] == 0:
        return full
    masks_ok = mask_iou_thr is None or result['min_mask_iou'] is None or result['min_mask_iou'] >= mask_iou_thr
    return result['max_score_diff'] <= score_tol and masks_ok
