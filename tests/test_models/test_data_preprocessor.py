"""ClsDataPreprocessor: normalisation always; random erasing and Mixup/CutMix only in training."""

import pytest
import torch
from mmengine.structures import BaseDataElement

from convnext_dense.models import ClsDataPreprocessor

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)


def _batch(n=4, labels=None, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = [torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8) for _ in range(n)]
    samples = []
    for label in labels or range(n):
        s = BaseDataElement()
        s.gt_label = torch.tensor(label)
        samples.append(s)
    return dict(inputs=images, data_samples=samples), images


def _recipe(**kw):
    return ClsDataPreprocessor(
        num_classes=5,
        random_erasing=dict(probability=1.0, mode='pixel', max_count=1),
        mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch', label_smoothing=0.1),
        **kw,
    )


def test_eval_only_normalises():
    data, images = _batch()
    out = _recipe()(data, training=False)
    expected = (torch.stack(images).float() - MEAN) / STD
    torch.testing.assert_close(out['inputs'], expected)
    assert all('gt_score' not in s for s in out['data_samples'])


def test_training_mixes_images_and_makes_soft_labels():
    torch.manual_seed(0)
    data, images = _batch(labels=[0, 1, 2, 3])
    out = _recipe()(data, training=True)
    normalised = (torch.stack(images).float() - MEAN) / STD
    assert out['inputs'].shape == (4, 3, 16, 16) and out['inputs'].dtype == torch.float32
    assert not torch.allclose(out['inputs'], normalised)
    soft = torch.stack([s.gt_score for s in out['data_samples']])
    assert soft.shape == (4, 5)
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(4))
    assert soft.min() > 0 and soft.max() < 1  # smoothed and mixed, not one-hot
    # batch mode: sample i is mixed with sample n-1-i, so its mass sits on those two labels
    labels = torch.tensor([0, 1, 2, 3])
    top2 = soft.topk(2, dim=1).indices.sort(dim=1).values
    pairs = torch.stack([labels, labels.flip(0)], dim=1).sort(dim=1).values
    assert torch.equal(top2, pairs)
    assert [int(s.gt_label) for s in out['data_samples']] == [0, 1, 2, 3]


def test_random_erasing_alone_writes_noise_into_a_box():
    random_erasing = ClsDataPreprocessor(random_erasing=dict(probability=1.0, mode='pixel', max_count=1))
    data, images = _batch(n=3, size=32)
    out = random_erasing(data, training=True)['inputs']
    normalised = (torch.stack(images).float() - MEAN) / STD
    changed = (out != normalised).any(dim=1)  # (N, H, W)
    for mask in changed:
        assert 0 < mask.float().mean() < 0.5  # one box of 2%..33% of the image
        ys, xs = mask.nonzero(as_tuple=True)
        box = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        assert box.float().mean() > 0.9  # a rectangle (a few noise values may equal the image)
    assert all('gt_score' not in s for s in data['data_samples'])


def test_odd_batch_with_mixup_is_a_clear_error():
    data, _ = _batch(n=3)
    with pytest.raises(ValueError, match='even batch; got 3 images'):
        _recipe()(data, training=True)


def test_mixup_needs_num_classes():
    with pytest.raises(ValueError, match='mixup needs num_classes'):
        ClsDataPreprocessor(mixup=dict(mixup_alpha=0.8))
