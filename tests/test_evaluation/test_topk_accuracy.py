"""TopKAccuracy against a hand count, alone and through mmengine's Evaluator."""

import pytest
import torch
from mmengine.evaluator import Evaluator

from convnext_dense.evaluation import TopKAccuracy

# scores of 5 samples over 4 classes; ranks of the true label: 1, 2, 3, 1, 4
SCORES = torch.tensor(
    [
        [0.1, 0.6, 0.2, 0.1],  # label 1: top-1
        [0.5, 0.1, 0.3, 0.1],  # label 2: second
        [0.4, 0.3, 0.2, 0.1],  # label 2: third
        [0.0, 0.0, 0.1, 0.9],  # label 3: top-1
        [0.3, 0.3, 0.4, 0.0],
    ]
)  # label 3: last
LABELS = [1, 2, 2, 3, 3]


def _samples():
    return [dict(pred_score=s, gt_label=torch.tensor(y)) for s, y in zip(SCORES, LABELS)]


def test_matches_a_hand_count():
    metric = TopKAccuracy(topk=(1, 2, 3, 4))
    metric.process(None, _samples())
    assert metric.compute_metrics(metric.results) == {'top1': 40.0, 'top2': 60.0, 'top3': 80.0, 'top4': 100.0}


def test_through_the_evaluator_in_batches():
    evaluator = Evaluator(dict(type='TopKAccuracy', topk=(1, 2)))
    samples = _samples()
    evaluator.process(samples[:2])
    evaluator.process(samples[2:])
    assert evaluator.evaluate(5) == {'accuracy/top1': 40.0, 'accuracy/top2': 60.0}


def test_k_above_the_number_of_classes_is_an_error():
    metric = TopKAccuracy(topk=(1, 5))
    with pytest.raises(ValueError, match=r'topk=\(1, 5\) but the model scores 4 classes'):
        metric.process(None, _samples())
    with pytest.raises(ValueError, match='must be positive ints'):
        TopKAccuracy(topk=(0,))
