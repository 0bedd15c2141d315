"""The mIoU that mmseg's IoUMetric reports equals a numpy computation from the PNG files it writes.

Predictions are the validation labels with noise (random pixels and shifted blocks), so no model is
trained; IoUMetric runs as in ``tools/test.py --out DIR`` (``output_dir``), and the mIoU is then
recomputed from nothing but the prediction PNGs and the label PNGs on disk.
"""

import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample
from PIL import Image

import convnext_dense.datasets  # noqa: F401  (registers SyntheticADE20KDataset)
from convnext_dense.datasets.synthetic.ade import CLASSES, generate_ade, split_files

NUM_CLASSES = len(CLASSES)


def noisy_prediction(rng, gt, flip_fraction):
    """``gt`` (train ids, 255 = ignore) with random pixels relabelled and a block shifted."""
    pred = np.where(gt == 255, rng.integers(NUM_CLASSES, size=gt.shape), gt)
    flip = rng.random(gt.shape) < flip_fraction
    pred[flip] = rng.integers(NUM_CLASSES, size=int(flip.sum()))
    h, w = gt.shape
    y, x = rng.integers(h // 2), rng.integers(w // 2)
    pred[y : y + h // 3, x : x + w // 3] = np.roll(pred, 5, axis=1)[y : y + h // 3, x : x + w // 3]
    return pred.astype(np.int64)


def miou_from_pngs(pred_dir, val_pairs):
    """Independent mIoU: ADE20K convention on disk (0 = other, ignored; class k is value k + 1)."""
    inter = np.zeros(NUM_CLASSES)
    union = np.zeros(NUM_CLASSES)
    correct = total = 0
    for _, seg_path in val_pairs:
        label = np.asarray(Image.open(seg_path)).astype(np.int64)
        stem = osp.splitext(osp.basename(seg_path))[0]
        pred = np.asarray(Image.open(osp.join(pred_dir, stem + '.png'))).astype(np.int64)
        assert pred.shape == label.shape
        valid = label != 0
        for k in range(1, NUM_CLASSES + 1):
            p, g = (pred == k) & valid, (label == k) & valid
            inter[k - 1] += (p & g).sum()
            union[k - 1] += (p | g).sum()
        correct += ((pred == label) & valid).sum()
        total += valid.sum()
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = inter / union  # a class absent from both prediction and labels is NaN: left out
    return 100 * np.nanmean(iou), 100 * correct / total, iou


@pytest.mark.parametrize('flip_fraction', [0.05, 0.4])
def test_iou_metric_equals_numpy_from_saved_pngs(tmp_path, flip_fraction):
    root = str(tmp_path / 'data')
    generate_ade(root, num_train=1, num_val=8, image_size=64, seed=2)
    init_default_scope('mmseg')
    dataset = DATASETS.build(
        dict(
            type='SyntheticADE20KDataset',
            data_root=root,
            data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', reduce_zero_label=True),
                dict(type='PackSegInputs'),
            ],
        )
    )
    out_dir = str(tmp_path / 'pred')
    metric = IoUMetric(iou_metrics=['mIoU'], output_dir=out_dir)
    metric.dataset_meta = dataset.metainfo

    rng = np.random.default_rng(0)
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        gt = sample.gt_sem_seg.data[0].numpy()
        pred = SegDataSample(metainfo=sample.metainfo)
        pred.gt_sem_seg = sample.gt_sem_seg
        pred.pred_sem_seg = PixelData(data=torch.from_numpy(noisy_prediction(rng, gt, flip_fraction))[None])
        metric.process({}, [pred.to_dict()])
    reported = metric.evaluate(len(dataset))

    pairs = split_files(root, 'val')
    assert sorted(os.listdir(out_dir)) == sorted(osp.basename(s) for _, s in pairs)  # one mask per image
    values = set()
    for name in os.listdir(out_dir):
        values.update(np.unique(np.asarray(Image.open(osp.join(out_dir, name)))).tolist())
    assert values <= set(range(1, NUM_CLASSES + 1))  # written in ADE20K's on-disk convention (k + 1)

    miou, aacc, iou = miou_from_pngs(out_dir, pairs)
    assert 20 < miou < 99.5 and np.isfinite(iou).all()  # noisy, not perfect: a real comparison
    # IoUMetric rounds to 2 decimals
    assert reported['mIoU'] == pytest.approx(miou, abs=0.006)
    assert reported['aAcc'] == pytest.approx(aacc, abs=0.006)
