"""Test-time augmentation that mmdet 3.3 lacks for instance masks.

:class:`InstanceTTAModel` is mmdet's ``DetTTAModel`` (boxes of all views un-flipped, merged by
  class-wise NMS) extended to instance masks: mmdet's version asserts that there are none, so
  ``tools/test.py --tta`` would fail for every Mask R-CNN / Cascade Mask R-CNN config. Each kept box
  keeps the (un-flipped) mask predicted with it in its own view. The detector sees each view as a
  plain image (see :meth:`InstanceTTAModel.test_step`), which Cascade Mask R-CNN needs.
"""

from typing import List

import torch
from mmcv.ops import batched_nms
from mmdet.models.test_time_augs import DetTTAModel
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from ..errors import ConfigError

_FLIP_DIMS = {'horizontal': (-1,), 'vertical': (-2,), 'diagonal': (-2, -1)}


@MODELS.register_module()
class InstanceTTAModel(DetTTAModel):
    """Test-time augmentation for detectors with or without instance masks.

    Args:
        tta_cfg: ``dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)`` as for ``DetTTAModel``.
        **kwargs: ``module`` (the detector) and the rest of ``mmengine.model.BaseTTAModel``'s arguments.
    """

    def test_step(self, data: dict) -> List[DetDataSample]:
        """Predict every view with the detector, then merge; the views' flips are hidden from the detector.

        A flipped view is an ordinary image to the detector, and its flip is undone here, in
        :meth:`_merge_single_sample`. mmdet 3.3's ``CascadeRoIHead.predict_mask`` averages its three
        stages' masks with ``merge_aug_masks(masks, img_meta)``, which also "un-flips" them when the
        meta says ``flip``: with numpy slicing (``[..., ::-1]``) that raises ``ValueError: step must be
        greater than zero`` on torch tensors, and would flip RoI masks of one view in any case. So each
        view goes through the detector with ``flip=False`` in its metainfo, and the flag is put back
        on the predictions before merging.
        """
        predictions = []
        for idx in range(len(data['inputs'])):
            view = {key: value[idx] for key, value in data.items()}
            flips = [sample.metainfo.get('flip', False) for sample in view['data_samples']]
            for sample in view['data_samples']:
                sample.set_metainfo(dict(flip=False))
            outputs = self.module.test_step(view)
            for sample, flip in zip(outputs, flips):
                sample.set_metainfo(dict(flip=flip))
            predictions.append(outputs)
        return self.merge_preds(list(zip(*predictions)))

    def _merge_single_sample(self, data_samples: List[DetDataSample]) -> DetDataSample:
        if data_samples[0].pred_instances.get('masks', None) is None:
            return super()._merge_single_sample(data_samples)
        metas = [sample.metainfo for sample in data_samples]
        preds = [sample.pred_instances for sample in data_samples]
        bboxes, scores = self.merge_aug_bboxes([p.bboxes for p in preds], [p.scores for p in preds], metas)
        labels = torch.cat([p.labels for p in preds])
        masks = torch.cat([self._unflip(p.masks, meta) for p, meta in zip(preds, metas)])
        if bboxes.numel() == 0:
            return data_samples[0]
        dets, keep = batched_nms(bboxes, scores, labels, self.tta_cfg.nms)
        keep = keep[: self.tta_cfg.max_per_img]
        merged = InstanceData()
        merged.bboxes = dets[: len(keep), :-1]
        merged.scores = dets[: len(keep), -1]
        merged.labels = labels[keep]
        merged.masks = masks[keep]
        result = data_samples[0]
        result.pred_instances = merged
        return result

    @staticmethod
    def _unflip(masks: torch.Tensor, meta: dict) -> torch.Tensor:
        """Masks of a flipped view back in the original orientation (they are already at ori_shape)."""
        if not meta.get('flip', False):
            return masks
        direction = meta.get('flip_direction')
        if direction not in _FLIP_DIMS:
            raise ConfigError(
                f'InstanceTTAModel: flip_direction={direction!r} in the test-time views; '
                f'use RandomFlip with direction in {sorted(_FLIP_DIMS)}'
            )
        return masks.flip(_FLIP_DIMS[direction])
