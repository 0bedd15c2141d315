"""Top-k classification accuracy as an mmengine metric.

mmpretrain's ``Accuracy`` is the usual choice, but mmpretrain is not part of this project's stack
(mmengine + mmdet + mmseg + timm), and mmengine ships no classification metric; this is the small
piece written by hand. Results are logged as ``accuracy/top1``, ``accuracy/top5`` (mmpretrain's names),
in percent.
"""

from typing import Dict, List, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS

from ..errors import ConfigError


@METRICS.register_module()
class TopKAccuracy(BaseMetric):
    """Percentage of samples whose label is among the ``k`` highest scores, for each ``k`` in ``topk``.

    Args:
        topk: the ``k`` values, e.g. ``(1, 5)``; each must be at most the number of classes.
        collect_device: where results are gathered in distributed evaluation.
        prefix: metric name prefix (default ``'accuracy'``).

    The model's predictions (``pred_score``, shape (num_classes,)) and the ``gt_label`` of each sample
    are read from the data samples that ``ConvNeXtClassifier.predict`` returns. Only the indices of the
    ``max(topk)`` best scores are kept per sample, so evaluating ImageNet holds 50k x 5 ints, not the
    50k x 1000 scores.

    Example:
        >>> metric = TopKAccuracy(topk=(1, 2))
        >>> metric.process(None, [dict(pred_score=torch.tensor([.1, .7, .2]), gt_label=torch.tensor(2))])
        >>> metric.compute_metrics(metric.results)
        {'top1': 0.0, 'top2': 100.0}
    """

    default_prefix = 'accuracy'

    def __init__(self, topk: Union[int, Sequence[int]] = (1, 5), collect_device: str = 'cpu', prefix=None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not topk or any(not isinstance(k, int) or k < 1 for k in topk):
            raise ConfigError(f'TopKAccuracy: topk={topk} must be positive ints, e.g. (1, 5)')
        self.topk = topk

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            score = torch.as_tensor(sample['pred_score'])
            if max(self.topk) > score.numel():
                raise ConfigError(
                    f'TopKAccuracy: topk={self.topk} but the model scores {score.numel()} classes; '
                    f"use k <= {score.numel()} (e.g. val_evaluator=dict(type='TopKAccuracy', "
                    f'topk=(1,)))'
                )
            best = score.topk(max(self.topk)).indices.cpu()
            self.results.append(dict(best=best, gt_label=int(sample['gt_label'])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        best = torch.stack([r['best'] for r in results])
        labels = torch.tensor([r['gt_label'] for r in results])
        hits = best == labels[:, None]
        return {f'top{k}': 100.0 * hits[:, :k].any(dim=1).sum().item() / len(results) for k in self.topk}
