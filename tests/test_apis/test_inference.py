"""tools/infer.py's path: drawn PNGs (and masks / JSON predictions) for detection and segmentation."""

import json
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch

from convnext_dense.analysis import build_model
from convnext_dense.apis import load_config
from convnext_dense.apis.inference import list_images, run_inference

ROOT = Path(__file__).resolve().parents[2]
DEMOS = {
    'det': ROOT / 'configs/detection/demo/cascade_convnext_demo.py',
    'seg': ROOT / 'configs/segmentation/demo/upernet_convnext_demo.py',
}


def _random_checkpoint(cfg, path, classes):
    torch.manual_seed(0)
    model = build_model(cfg)
    palette = [[(37 * i) % 256, (91 * i) % 256, (151 * i) % 256] for i in range(len(classes))]
    torch.save(
        {'state_dict': model.state_dict(), 'meta': {'dataset_meta': {'classes': classes, 'palette': palette}}}, path
    )  # as Runner saves it
    return str(path)


def _images(folder, sizes):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        mmcv.imwrite(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), str(folder / f'img{i}.jpg'))
    return folder


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_predictions_are_drawn_as_png(tmp_path, task):
    cfg = load_config(str(DEMOS[task]))
    head = cfg.model.decode_head if task == 'seg' else cfg.model.roi_head.bbox_head[0]
    classes = tuple(f'c{i}' for i in range(head.num_classes))
    ckpt = _random_checkpoint(cfg, tmp_path / 'model.pth', classes)
    sizes = [(96, 128), (75, 61)]
    written = run_inference(cfg, ckpt, str(_images(tmp_path / 'in', sizes)), str(tmp_path / 'out'), score_thr=0.0)
    assert [Path(p).name for p in written] == ['img0.png', 'img1.png']
    for path, (h, w) in zip(written, sizes):
        assert mmcv.imread(path).shape == (h, w, 3)
    if task == 'seg':
        mask = mmcv.imread(str(tmp_path / 'out/masks/img1.png'), flag='unchanged')
        assert mask.shape == (75, 61) and mask.max() < len(classes)
    else:
        pred = json.loads((tmp_path / 'out/preds/img0.json').read_text())
        assert set(pred) >= {'bboxes', 'scores', 'labels'} and len(pred['bboxes']) == len(pred['scores'])


def test_inputs_must_be_images(tmp_path):
    with pytest.raises(FileNotFoundError, match='neither an image file nor a folder'):
        list_images(str(tmp_path / 'nothing'))
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(FileNotFoundError, match='holds no images'):
        list_images(str(tmp_path))
