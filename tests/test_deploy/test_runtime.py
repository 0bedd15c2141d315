"""The exported file in the PyTorch model's place: tools/infer.py's drawings, and the test loop's metrics."""

import json
from pathlib import Path

import mmcv
import numpy as np
import pytest
from deploy_models import random_checkpoint, tiny_config

from convnext_dense.apis.inference import run_inference
from convnext_dense.deploy import export_onnx, load_onnx_model, read_metadata
from convnext_dense.deploy.evaluate import compare_metrics, format_comparison
from convnext_dense.errors import ConfigError


def _images(folder: Path, sizes):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        image = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        image[h // 4 : h // 2, w // 3 : w // 2] = (200, 40, 90)
        mmcv.imwrite(image, str(folder / f'img{i}.png'))
    return str(folder)


@pytest.mark.parametrize('kind', ['cascade', 'upernet'])
def test_infer_draws_the_same_with_onnxruntime(exported, tmp_path, kind):
    cfg, ckpt, path = exported(kind)
    images = _images(tmp_path / 'in', [(96, 128), (75, 61)])
    drawn = {}
    for backend, weights in (('pytorch', ckpt), ('onnxruntime', path)):
        out = tmp_path / backend
        np.random.seed(0)  # mmdet's visualiser jitters each mask's colour with numpy's global generator
        written = run_inference(cfg, weights, images, str(out), score_thr=0.2, backend=backend)
        drawn[backend] = [mmcv.imread(p) for p in written]
    for a, b in zip(drawn['pytorch'], drawn['onnxruntime']):
        assert a.shape == b.shape and (a == b).all(axis=-1).mean() >= 0.999
    if kind == 'cascade':
        pt = json.loads((tmp_path / 'pytorch/preds/img0.json').read_text())
        ort = json.loads((tmp_path / 'onnxruntime/preds/img0.json').read_text())
        assert pt['labels'] == ort['labels'] and len(pt['bboxes']) > 0
        np.testing.assert_allclose(ort['bboxes'], pt['bboxes'], atol=1e-3)
        np.testing.assert_allclose(ort['scores'], pt['scores'], atol=1e-5)
    else:
        for name in ('img0.png', 'img1.png'):
            a = mmcv.imread(str(tmp_path / 'pytorch/masks' / name), flag='unchanged')
            b = mmcv.imread(str(tmp_path / 'onnxruntime/masks' / name), flag='unchanged')
            assert (a == b).mean() >= 0.999


def test_the_file_carries_the_class_names_and_the_input_contract(exported):
    meta = read_metadata(exported('mask_rcnn')[2])
    assert meta['dataset_meta']['classes'][:2] == ['class0', 'class1'] and meta['batch'] == 1
    assert 'BGR' in meta['input'] and 'swaps BGR to RGB' in meta['input'] and 'multiples of 32' in meta['input']
    assert meta['outputs'] == ['boxes', 'scores', 'labels', 'masks']


def test_a_backbone_file_has_no_test_step(exported):
    with pytest.raises(ConfigError, match='backbone graph'):
        load_onnx_model(exported('classifier', part='backbone')[2])


@pytest.mark.parametrize('kind', ['mask_rcnn', 'upernet'])
def test_test_set_metrics_are_pytorchs(synthetic_set, tmp_path, monkeypatch, kind):
    """The test loop (dataloader, evaluator) of both backends; with random weights the metrics must agree."""
    monkeypatch.chdir(tmp_path)
    if kind == 'mask_rcnn':
        root = synthetic_set('coco', num_train=1, num_val=4, image_size=96, seed=0)
    else:
        root = synthetic_set('ade', num_train=1, num_val=3, image_size=96, seed=0)
    cfg = tiny_config(kind, data_root=root)
    ckpt = random_checkpoint(cfg, tmp_path / 'model.pth')
    path = str(tmp_path / 'model.onnx')
    export_onnx(cfg, ckpt, path)
    result = compare_metrics(cfg, ckpt, path)
    assert result['images'] == (4 if kind == 'mask_rcnn' else 3)
    keys = ['coco/bbox_mAP', 'coco/segm_mAP'] if kind == 'mask_rcnn' else ['mIoU', 'aAcc']
    for key in keys:
        assert abs(result['onnxruntime'][key] - result['pytorch'][key]) <= 1e-3, format_comparison(result)
    assert '| PyTorch | onnxruntime |' in format_comparison(result)
    assert not (tmp_path / '{log_dir}').exists()  # COCO's results files: in a temporary folder, not a literal path


def test_the_tool_exports_and_says_what_the_file_takes(tmp_path, monkeypatch, capsys):
    import runpy
    import sys

    from deploy_models import ROOT

    cfg = tiny_config('classifier')
    cfg.dump(str(tmp_path / 'tiny.py'))
    ckpt = random_checkpoint(cfg, tmp_path / 'model.pth')
    out = str(tmp_path / 'model.onnx')
    monkeypatch.setattr(sys, 'argv', ['tools/export.py', str(tmp_path / 'tiny.py'), ckpt, '--out', out])
    runpy.run_path(str(ROOT / 'tools/export.py'), run_name='not_main')['main']()
    printed = capsys.readouterr().out
    assert f'wrote {out}: classifier, fp32, fused' in printed
    assert "input 'image': float32 NCHW pixel values 0..255" in printed and 'outputs: logits' in printed
    assert 'checked in onnxruntime against PyTorch at 2x3x261x277' in printed
