"""tools/gpu_check.py without a GPU: the parts a CPU can run run, the GPU parts are skipped with the reason."""

import json
import os.path as osp
import subprocess
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_without_a_gpu_the_gpu_parts_are_skipped_and_said_so(tmp_path):
    if torch.cuda.is_available():  # on a GPU machine this would run the whole check: that is make gpu-check
        return
    out = tmp_path / 'report'
    proc = subprocess.run([sys.executable, 'tools/gpu_check.py', '--no-install', '--out', str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / 'gpu_check.json').read_text())
    parts = report['parts']
    assert parts['install']['status'] == 'skipped' and '--no-install' in parts['install']['why']
    assert parts['imports']['status'] == 'ok' and report['environment']['cuda_available'] is False
    assert report['environment']['mmcv'] == '2.1.0'
    for name in ('test-gpu', 'bench-backbone', 'bench-cascade', 'bench-upernet'):
        assert parts[name] == dict(status='skipped', why='no CUDA GPU is visible (torch.cuda.is_available() is False)')
    text = (out / 'gpu_check.md').read_text()
    assert '| bench-cascade | skipped | - | no CUDA GPU is visible' in text and 'mmcv 2.1.0' in text
