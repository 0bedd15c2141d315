"""The CPU demo end to end (slow, `make test-slow`): pretraining beats chance, and detection can load the result."""

import glob
import json
import os.path as osp
import subprocess
import sys

import pytest

from convnext_dense.datasets.synthetic import generate_imagefolder
from convnext_dense.models import ConvNeXt, load_pretrained

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'classification', 'demo', 'convnext_demo.py')


@pytest.mark.slow
def test_demo_pretrains_above_chance_and_feeds_the_backbone(tmp_path):
    data, work = str(tmp_path / 'data'), str(tmp_path / 'work')
    info = generate_imagefolder(data, image_size=64)  # the demo set: 13 classes, 200 + 30 images each
    options = [
        f'{loader}.dataset.data_root={data}' for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    res = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), DEMO, '--work-dir', work, '--cfg-options', *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (scalars,) = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        top1 = [r['accuracy/top1'] for r in map(json.loads, f) if 'accuracy/top1' in r]
    chance = 100.0 / len(info['classes'])
    assert top1 and top1[-1] >= 3 * chance, f'final top-1 {top1} is not clearly above chance ({chance:.1f}%)'
    checkpoint = sorted(glob.glob(osp.join(work, 'epoch_*.pth')))[-1]
    for use_ema in (False, True):
        backbone = ConvNeXt(arch=dict(depths=[1, 1, 3, 1], dims=[32, 64, 128, 256]), out_norm=False)
        report = load_pretrained(backbone, checkpoint, use_ema=use_ema)
        assert report['missing'] == [] and sorted(report['unexpected']) == [
            'head.bias',
            'head.weight',
            'norm.bias',
            'norm.weight',
        ]
