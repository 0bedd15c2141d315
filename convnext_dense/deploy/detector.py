"""Mask R-CNN and Cascade Mask R-CNN (mmdet's two-stage detectors) as one ONNX graph, and the host's mask pasting.

The graph runs mmdet's modules for everything with weights (backbone, neck, RPN head, RoI heads) and
rewrites only their test-time post-processing in operators that trace to ONNX with dynamic sizes (mmdet's
``predict`` paths branch on data and take the image size as Python numbers). Each step is mmdet 3.3's, with
the same operations in the same order:

* RPN (``RPNHead._predict_by_feat_single``, ``_bbox_post_process``): per level the ``nms_pre`` best
  anchors, delta decoding (``delta2bbox``), clipping to the image, the ``min_bbox_size`` filter, NMS per
  level through mmcv's offset trick (``batched_nms``), ``max_per_img`` proposals;
* RoI features (``SingleRoIExtractor``): each RoI pooled by RoIAlign on the level its scale maps to;
* box heads (``BBoxHead.predict_by_feat`` + ``multiclass_nms``): softmax, class-specific or agnostic
  decoding, clipping, ``score_thr``, class-wise NMS, ``max_per_img``;
* Cascade (``CascadeRoIHead.predict_bbox``): each stage refines the RoIs with the deltas of its arg-max
  class (``regress_by_class``: class-specific regression, as ConvNeXt's configs use) and the final scores
  are the mean of the stages' logits;
* masks (``predict_mask``): the mask head on the detected boxes, the sigmoid of the detected class's
  channel (Cascade: the mean of the stages' sigmoids).

Outputs, for one image (batch 1): ``boxes`` (K, 4) in the input image's pixels, ``scores`` (K,),
``labels`` (K,) int64 and, with a mask head, ``masks`` (K, M, M): the RoI-sized mask probabilities. The
host scales the boxes back to the original image and pastes the masks there (:func:`paste_masks`,
``FCNMaskHead`` on the CPU), which depends on the original size and stays out of the graph.
"""

from typing import List, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmdet.models.roi_heads import CascadeRoIHead
from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import delta2bbox

from .ops import image_size, nms_sorted, roi_align, topk
from .preprocess import Preprocess


def grid_anchors(feat: torch.Tensor, base_anchors: torch.Tensor, stride: Tuple[int, int]) -> torch.Tensor:
    """``AnchorGenerator.single_level_grid_priors`` for a feature map of any size: (H * W * A, 4), row-major."""
    shift_x = (torch.ones_like(feat[0, 0, 0, :], dtype=torch.float32).cumsum(0) - 1) * stride[0]  # arange, in-graph
    shift_y = (torch.ones_like(feat[0, 0, :, 0], dtype=torch.float32).cumsum(0) - 1) * stride[1]
    xx = shift_x[None, :] + 0 * shift_y[:, None]
    yy = shift_y[:, None] + 0 * shift_x[None, :]
    shifts = torch.stack([xx, yy, xx, yy], dim=-1).reshape(-1, 1, 4)
    return (base_anchors[None] + shifts).reshape(-1, 4)


def decode_boxes(coder, priors: torch.Tensor, deltas: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """``DeltaXYWHBBoxCoder.decode`` with the clipping to the image size done by tensors (dynamic sizes)."""
    boxes = delta2bbox(
        priors,
        deltas,
        means=coder.means,
        stds=coder.stds,
        clip_border=False,
        add_ctr_clamp=coder.add_ctr_clamp,
        ctr_clamp=coder.ctr_clamp,
    )
    if not coder.clip_border:
        return boxes
    shape = boxes.shape
    boxes = boxes.reshape(-1, 4).clamp(min=0)
    return torch.minimum(boxes, size.flip(0).repeat(2)).reshape(shape)  # x <= width, y <= height


def batched_nms(boxes, scores, idxs, nms_cfg, max_num: int) -> torch.Tensor:
    """mmcv's ``batched_nms``: NMS within each ``idxs`` group through coordinate offsets; kept indices by score."""
    if not nms_cfg.get('class_agnostic', False):
        max_coordinate = torch.cat([boxes.reshape(-1), boxes.new_zeros(1)]).max()  # the zero: no empty max
        boxes = boxes + idxs.to(boxes)[:, None] * (max_coordinate + 1)
    return nms_sorted(boxes, scores, nms_cfg['iou_threshold'], max_num)


def extract_rois(extractor, feats: List[torch.Tensor], rois: torch.Tensor) -> torch.Tensor:
    """``SingleRoIExtractor.forward``: each RoI pooled on the level of its scale (float32)."""
    layers = extractor.roi_layers
    if len(layers) == 1:
        return roi_align(feats[0], rois, layers[0])
    # map_roi_levels: floor(log2(scale / finest_scale + 1e-6)) clamped, written as comparisons
    # with the powers of two (the same levels, and no log rounding at the boundaries)
    scale = torch.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2])) / extractor.finest_scale + 1e-6
    levels = sum((scale >= 2**i).long() for i in range(1, len(layers)))
    pooled, order = [], []
    for i, layer in enumerate(layers):
        inds = torch.nonzero(levels == i)[:, 0]
        pooled.append(roi_align(feats[i], rois[inds], layer))
        order.append(inds)
    # back to the RoIs' order: sorting the gathered indices gives the inverse permutation (mmdet writes
    # each level's features into its rows; an index_put would export with the traced level counts)
    inverse = topk(-torch.cat(order).float(), -1)[1]
    return torch.cat(pooled)[inverse]


def paste_masks(masks: torch.Tensor, boxes: torch.Tensor, height: int, width: int, threshold: float) -> torch.Tensor:
    """``FCNMaskHead._predict_by_feat_single`` on the CPU: RoI mask probabilities pasted into the original image.

    Args:
        masks: (K, M, M) probabilities of the detected classes.
        boxes: (K, 4) boxes in the original image's pixels.
        height: the original image's height.
        width: its width.
        threshold: ``mask_thr_binary``; a negative one gives uint8 probabilities x 255, as mmdet.

    Returns:
        (K, height, width) bool masks (uint8 for a negative threshold).
    """
    out = torch.zeros(len(masks), height, width, dtype=torch.bool if threshold >= 0 else torch.uint8)
    for i in range(len(masks)):  # one mask a chunk, as mmdet on the CPU
        pasted, region = _do_paste_mask(masks[i : i + 1, None], boxes[i : i + 1], height, width, skip_empty=True)
        pasted = (pasted >= threshold) if threshold >= 0 else (pasted * 255).to(torch.uint8)
        out[(slice(i, i + 1),) + region] = pasted
    return out


class TwoStageDetectorGraph(nn.Module):
    """An mmdet two-stage detector (RPN + ``StandardRoIHead`` or ``CascadeRoIHead``) for one image.

    Args:
        detector: the detector in eval mode (``MaskRCNN``, ``CascadeRCNN``, ``FasterRCNN``...).
        preprocess: its test-time preprocessing (normalisation, padding to the size divisor).
        dtype: the dtype of the network's layers; post-processing and RoIAlign compute in float32.
    """

    def __init__(self, detector: nn.Module, preprocess: Preprocess, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.detector = detector
        self.preprocess = preprocess
        self.dtype = dtype
        self.rpn_cfg = detector.rpn_head.test_cfg
        self.rcnn_cfg = detector.roi_head.test_cfg
        self.cascade = isinstance(detector.roi_head, CascadeRoIHead)
        self.with_mask = detector.roi_head.with_mask
        generator = detector.rpn_head.prior_generator
        for i, anchors in enumerate(generator.base_anchors):
            self.register_buffer(f'base_anchors{i}', anchors.float(), persistent=False)
        self.anchor_strides = [tuple(int(s) for s in stride) for stride in generator.strides]

    def forward(self, image: torch.Tensor):
        size = image_size(image)  # mmdet's img_shape: the resized image before padding
        feats = self.detector.extract_feat(self.preprocess(image).to(self.dtype))
        proposals = self._proposals(feats, size)
        feats = [f.float() for f in feats]
        boxes, scores, labels = self._detect(feats, proposals, size)
        if not self.with_mask:
            return boxes, scores, labels
        return boxes, scores, labels, self._masks(feats, boxes, labels)

    def _proposals(self, feats, size: torch.Tensor) -> torch.Tensor:
        head, cfg = self.detector.rpn_head, self.rpn_cfg
        cls_scores, bbox_preds = head(feats)
        scores, deltas, anchors, levels = [], [], [], []
        for i, (cls_score, bbox_pred) in enumerate(zip(cls_scores, bbox_preds)):
            score = cls_score[0].float().permute(1, 2, 0).reshape(-1, head.cls_out_channels)
            score = score.sigmoid() if head.use_sigmoid_cls else score.softmax(-1)[:, :-1]
            score, keep = topk(score.reshape(-1), cfg.get('nms_pre', -1))
            delta = bbox_pred[0].float().permute(1, 2, 0).reshape(-1, head.bbox_coder.encode_size)
            scores.append(score)
            deltas.append(delta[keep])
            anchors.append(grid_anchors(cls_score, getattr(self, f'base_anchors{i}'), self.anchor_strides[i])[keep])
            levels.append(torch.full_like(score, i, dtype=torch.long))
        boxes = decode_boxes(head.bbox_coder, torch.cat(anchors), torch.cat(deltas), size)
        scores, levels = torch.cat(scores), torch.cat(levels)
        min_size = cfg.get('min_bbox_size', -1)
        if min_size >= 0:
            valid = torch.nonzero((boxes[:, 2] - boxes[:, 0] > min_size) & (boxes[:, 3] - boxes[:, 1] > min_size))[:, 0]
            boxes, scores, levels = boxes[valid], scores[valid], levels[valid]
        return boxes[batched_nms(boxes, scores, levels, cfg.nms, cfg.max_per_img)]

    def _box_head(self, stage: int, feats, rois):
        roi_head = self.detector.roi_head
        extractor = roi_head.bbox_roi_extractor[stage] if self.cascade else roi_head.bbox_roi_extractor
        head = roi_head.bbox_head[stage] if self.cascade else roi_head.bbox_head
        cls_score, bbox_pred = head(extract_rois(extractor, feats, rois).to(self.dtype))
        return head, cls_score.float(), bbox_pred.float()

    def _detect(self, feats, proposals: torch.Tensor, size: torch.Tensor):
        rois = torch.cat([proposals.new_zeros(proposals.shape[0], 1), proposals], dim=1)
        num_stages = self.detector.roi_head.num_stages if self.cascade else 1
        stage_scores = []
        for stage in range(num_stages):
            head, cls_score, bbox_pred = self._box_head(stage, feats, rois)
            stage_scores.append(cls_score)
            if stage < num_stages - 1:  # regress_by_class with the arg-max class of this stage
                if not head.reg_class_agnostic:
                    label = cls_score[:, :-1].argmax(dim=1) * 4
                    bbox_pred = torch.gather(bbox_pred, 1, torch.stack([label + i for i in range(4)], 1))
                refined = decode_boxes(head.bbox_coder, rois[:, 1:], bbox_pred, size)
                rois = torch.cat([rois[:, :1], refined], dim=1)
        cls_score = sum(stage_scores) / float(len(stage_scores))
        return self._box_results(head, rois, cls_score, bbox_pred, size)

    def _box_results(self, head, rois, cls_score, bbox_pred, size):
        """``BBoxHead._predict_by_feat_single`` with ``multiclass_nms`` for one image."""
        cfg = self.rcnn_cfg
        scores = cls_score.softmax(dim=-1)[:, :-1]
        boxes = decode_boxes(head.bbox_coder, rois[:, 1:], bbox_pred, size).reshape(rois.shape[0], -1, 4)
        boxes = boxes.expand(-1, head.num_classes, 4).reshape(-1, 4)  # a no-op for class-specific boxes
        labels = (torch.zeros_like(scores, dtype=torch.long) + torch.arange(head.num_classes)).reshape(-1)
        scores = scores.reshape(-1)
        valid = torch.nonzero(scores > cfg.score_thr)[:, 0]
        boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
        keep = batched_nms(boxes, scores, labels, cfg.nms, cfg.max_per_img)
        return boxes[keep], scores[keep], labels[keep]

    def _masks(self, feats, boxes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        roi_head = self.detector.roi_head
        rois = torch.cat([boxes.new_zeros(boxes.shape[0], 1), boxes], dim=1)
        if self.cascade:
            pairs = list(zip(roi_head.mask_roi_extractor, roi_head.mask_head))
        else:
            pairs = [(roi_head.mask_roi_extractor, roi_head.mask_head)]
        probs = []
        for extractor, head in pairs:
            pred = head(extract_rois(extractor, feats, rois).to(self.dtype)).float()
            probs.append(pred.sigmoid())
        prob = probs[0] if len(probs) == 1 else torch.stack(probs).mean(dim=0)  # merge_aug_masks
        if pairs[-1][1].class_agnostic:
            return prob[:, 0]
        index = labels.reshape(-1, 1, 1, 1).expand(-1, 1, prob.shape[2], prob.shape[3])
        return prob.gather(1, index)[:, 0]


def boxes_to_original(boxes: np.ndarray, scale_factor) -> np.ndarray:
    """Boxes in the resized image's pixels -> the original's (``scale_boxes(boxes, 1 / scale_factor)``)."""
    w_scale, h_scale = scale_factor
    return boxes / np.array([w_scale, h_scale, w_scale, h_scale], dtype=boxes.dtype)
