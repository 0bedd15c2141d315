"""The trained demos keep their metrics after export: COCO box/mask AP and mIoU of the ONNX file in onnxruntime
equal the PyTorch checkpoint's to 0.1 (points). Each test trains its demo first (10-30 minutes on 2 cores), so
they are marked slow (``make test-slow``); docs/deploy.md has the figures of one run."""

import os
import os.path as osp
import subprocess
import sys

import pytest

from convnext_dense.apis import load_config
from convnext_dense.deploy import export_onnx
from convnext_dense.deploy.evaluate import compare_metrics, format_comparison

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMOS = {
    'detection': ('configs/detection/demo/cascade_convnext_demo.py', 'coco', ['coco/bbox_mAP', 'coco/segm_mAP'], 0.001),
    'segmentation': ('configs/segmentation/demo/upernet_convnext_demo.py', 'ade', ['mIoU'], 0.1),
}


def _train(config: str, data: str, cwd) -> str:
    env = dict(os.environ, PYTHONPATH=REPO)
    out = f'data/synthetic_{data}'
    subprocess.run([sys.executable, osp.join(REPO, 'tools/make_demo_data.py'), data, '--out', out], cwd=cwd, check=True)
    subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/train.py'), config, '--work-dir', 'work'], cwd=cwd, env=env, check=True
    )
    return osp.join(cwd, 'work', open(osp.join(cwd, 'work', 'last_checkpoint')).read().strip().split('/')[-1])


@pytest.mark.slow
@pytest.mark.parametrize('demo', sorted(DEMOS))
def test_trained_demo_keeps_its_metrics_in_onnxruntime(tmp_path, monkeypatch, demo):
    config, data, keys, tolerance = DEMOS[demo]  # AP in [0, 1] (0.001 = 0.1 points), mIoU in points
    config = osp.join(REPO, config)
    checkpoint = _train(config, data, tmp_path)
    monkeypatch.chdir(tmp_path)  # the config's data_root is relative
    cfg = load_config(config)
    export_onnx(cfg, checkpoint, str(tmp_path / 'model.onnx'))
    result = compare_metrics(cfg, checkpoint, str(tmp_path / 'model.onnx'))
    print(format_comparison(result))
    for key in keys:
        assert result['pytorch'][key] > 0
        assert abs(result['onnxruntime'][key] - result['pytorch'][key]) <= tolerance, key
