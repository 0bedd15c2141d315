"""The segmentation demo end to end: synthetic ADE20K-format data -> UperNet + small ConvNeXt on
the CPU -> mIoU on the held-out validation split. Minutes, so marked slow (``make test-slow``)."""

import glob
import json
import os.path as osp
import subprocess
import sys
import time

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/segmentation/demo/upernet_convnext_demo.py'
MIN_MIOU = 60.0  # the target set for the demo; docs/demo_segmentation.md has the measured values


def last_metrics(work_dir: str) -> dict:
    """The last evaluation logged in ``work_dir``'s newest run (mmengine's ``vis_data/scalars.json``)."""
    runs = sorted(glob.glob(osp.join(work_dir, '2*_*', 'vis_data', 'scalars.json')))
    assert runs, f'no run logged in {work_dir}'
    with open(runs[-1]) as f:
        evaluations = [r for r in map(json.loads, f) if 'mIoU' in r]
    assert evaluations, f'no mIoU in {runs[-1]}'
    return evaluations[-1]


@pytest.mark.slow
def test_convnext_demo_reaches_target_miou(tmp_path):
    data_root = str(tmp_path / 'synthetic_ade')
    subprocess.run(
        [sys.executable, 'tools/make_demo_data.py', 'ade', '--out', data_root],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    work_dir = str(tmp_path / 'work')
    start = time.time()
    result = subprocess.run(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options', f'data_root={data_root}'],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = last_metrics(work_dir)
    print(f'demo: mIoU {metrics["mIoU"]:.2f}, aAcc {metrics["aAcc"]:.2f}, {time.time() - start:.0f} s')
    assert metrics['mIoU'] >= MIN_MIOU
