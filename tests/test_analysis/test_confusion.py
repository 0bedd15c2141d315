"""Confusion matrices: detection against a hand-counted case (mmdet's definition), segmentation against mmseg's IoU."""

import csv
import os
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import dump
from PIL import Image

from convnext_dense.analysis.confusion import pixel_confusion, seg_confusion_matrix
from convnext_dense.apis import load_config
from convnext_dense.datasets.synthetic.ade import CLASSES
from convnext_dense.errors import DataError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _run_tool(argv, monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['tools/confusion_matrix.py'] + argv)
    with pytest.raises(SystemExit) as info:
        runpy.run_path(osp.join(ROOT, 'tools', 'confusion_matrix.py'), run_name='__main__')
    return info.value.code


def _read_csv(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    return rows[0][1:], np.array([[int(v) for v in r[1:]] for r in rows[1:]])


def test_pixel_counts_agree_with_mmseg_intersect_and_union():
    from mmseg.evaluation.metrics import IoUMetric

    rng = np.random.default_rng(0)
    gt = rng.integers(0, 5, (37, 53))
    gt[rng.random(gt.shape) < 0.1] = 255
    pred = np.where(rng.random(gt.shape) < 0.6, np.where(gt == 255, 0, gt), rng.integers(0, 5, gt.shape))
    matrix = pixel_confusion(gt, pred, 5)
    inter, union, area_pred, area_label = IoUMetric.intersect_and_union(
        torch.from_numpy(pred), torch.from_numpy(gt), 5, 255
    )
    assert matrix.sum() == (gt != 255).sum()
    np.testing.assert_array_equal(np.diag(matrix), inter.numpy())
    np.testing.assert_array_equal(matrix.sum(1), area_label.numpy())
    np.testing.assert_array_equal(matrix.sum(0), area_pred.numpy())


def _coco(tmp_path):
    """2 images, classes a, b, c; image 1 holds one box of each class, image 2 none."""
    import json

    (tmp_path / 'img').mkdir()
    for name in ('1.jpg', '2.jpg'):
        Image.new('RGB', (100, 100)).save(tmp_path / 'img' / name)
    boxes = {0: [0, 0, 10, 10], 1: [20, 20, 20, 20], 2: [50, 50, 10, 10]}  # x, y, w, h
    ann = dict(
        images=[dict(id=i, file_name=f'{i}.jpg', width=100, height=100) for i in (1, 2)],
        categories=[dict(id=i + 1, name=n) for i, n in enumerate('abc')],
        annotations=[
            dict(id=c + 1, image_id=1, category_id=c + 1, bbox=b, area=b[2] * b[3], iscrowd=0) for c, b in boxes.items()
        ],
    )
    (tmp_path / 'ann.json').write_text(json.dumps(ann))
    cfg = Config(
        dict(
            default_scope='mmdet',
            test_dataloader=dict(
                dataset=dict(
                    type='CocoDataset',
                    data_root=str(tmp_path),
                    ann_file='ann.json',
                    data_prefix=dict(img='img/'),
                    metainfo=dict(classes=('a', 'b', 'c')),
                    test_mode=True,
                    pipeline=[],
                )
            ),
        )
    )
    cfg.dump(str(tmp_path / 'cfg.py'))
    return str(tmp_path / 'cfg.py')


def _pred(boxes, labels, scores):
    return dict(
        pred_instances=dict(
            bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            labels=torch.tensor(labels),
            scores=torch.tensor(scores),
        )
    )


def test_detection_matrix_counts_a_hand_made_case(tmp_path, monkeypatch):
    config = _coco(tmp_path)
    results = [
        _pred(
            [[0, 0, 10, 10], [20, 20, 40, 40], [70, 70, 80, 80], [50, 50, 60, 60]],
            [0, 2, 1, 2],
            [0.9, 0.8, 0.7, 0.1],  # the last one is below --score-thr 0.3: its box c goes unmatched
        ),
        _pred([[5, 5, 30, 30]], [0], [0.5]),  # an image without ground truth: a background false positive
    ]
    dump(results, str(tmp_path / 'results.pkl'))
    assert _run_tool([config, str(tmp_path / 'results.pkl'), '--out-dir', str(tmp_path / 'cm')], monkeypatch) == 0
    labels, matrix = _read_csv(tmp_path / 'cm' / 'confusion_matrix.csv')
    assert labels == ['a', 'b', 'c', 'background']
    expected = [
        [1, 0, 0, 0],  # a: found as a
        [0, 0, 1, 1],  # b: found as c only, so also missed (no prediction of b matched it)
        [0, 0, 0, 1],  # c: missed (its prediction scored 0.1)
        [1, 1, 0, 0],  # background: the b far from everything, the a on the empty image
    ]
    np.testing.assert_array_equal(matrix, expected)
    assert (tmp_path / 'cm' / 'confusion_matrix.png').is_file()


def test_detection_results_of_another_test_set_are_refused(tmp_path, monkeypatch, capsys):
    config = _coco(tmp_path)
    dump([_pred([[0, 0, 1, 1]], [0], [0.9])], str(tmp_path / 'one.pkl'))
    assert _run_tool([config, str(tmp_path / 'one.pkl'), '--out-dir', str(tmp_path)], monkeypatch) == 2
    assert "one.pkl' holds 1 images, the config's test set 2" in capsys.readouterr().err


def test_segmentation_matrix_of_png_predictions(synthetic_set, tmp_path, monkeypatch):
    """Predictions written as IoUMetric writes them (label + 1 under reduce_zero_label), some pixels wrong."""
    root = synthetic_set('ade', num_train=2, num_val=3, image_size=48, seed=0)
    config = osp.join(ROOT, 'configs/segmentation/demo/upernet_convnext_demo.py')
    cfg = load_config(config, dict(data_root=root))
    pred_dir = tmp_path / 'pred'
    pred_dir.mkdir()
    rng = np.random.default_rng(0)
    n = len(CLASSES)
    expected = np.zeros((n, n), dtype=np.int64)
    ann_dir = osp.join(root, 'annotations', 'validation')
    labels = sorted(osp.join(ann_dir, f) for f in os.listdir(ann_dir))
    assert len(labels) == 3
    for label_file in labels:
        raw = np.asarray(Image.open(label_file)).astype(np.int64)
        gt = np.where(raw == 0, 255, raw - 1)  # reduce_zero_label, by hand
        pred = np.where(rng.random(gt.shape) < 0.7, np.where(gt == 255, 0, gt), rng.integers(0, n, gt.shape))
        Image.fromarray((pred + 1).astype(np.uint8)).save(pred_dir / osp.basename(label_file))
        keep = gt != 255
        np.add.at(expected, (gt[keep], pred[keep]), 1)
    matrix, classes = seg_confusion_matrix(cfg, str(pred_dir))
    np.testing.assert_array_equal(matrix, expected)
    assert len(classes) == matrix.shape[0]
    args = [config, str(pred_dir), '--out-dir', str(tmp_path / 'cm'), '--cfg-options', f'data_root={root}']
    assert _run_tool(args, monkeypatch) == 0
    assert _read_csv(tmp_path / 'cm' / 'confusion_matrix.csv')[1].tolist() == expected.tolist()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(pred_dir / osp.basename(labels[0]))
    h, w = np.asarray(Image.open(labels[0])).shape
    with pytest.raises(DataError, match=rf'ADE_val_00000001.png. is 5x5, its label map {w}x{h}'):
        seg_confusion_matrix(cfg, str(pred_dir))
