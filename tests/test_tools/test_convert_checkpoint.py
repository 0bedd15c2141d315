"""tools/convert_checkpoint.py writes a file that loads into ConvNeXt with the same weights."""

import subprocess
import sys
from pathlib import Path

import timm
import torch

from convnext_dense.models import ConvNeXt, load_pretrained

ROOT = Path(__file__).resolve().parents[2]


def test_timm_checkpoint_converts_and_loads(tmp_path):
    src = tmp_path / 'timm_atto.pth'
    torch.save(timm.create_model('convnextv2_atto', pretrained=False).state_dict(), src)
    dst = tmp_path / 'out' / 'ours.pth'
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools/convert_checkpoint.py'), str(src), str(dst)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "arch 'v2-atto'" in proc.stdout
    saved = torch.load(dst, weights_only=True)
    assert 'stages.2.5.pwconv1.weight' in saved['state_dict'] and saved['meta']['arch']['grn'] is True
    net = ConvNeXt('v2-atto')
    assert load_pretrained(net, str(dst))['missing'] == [
        'norm0.weight',
        'norm0.bias',
        'norm1.weight',
        'norm1.bias',
        'norm2.weight',
        'norm2.bias',
        'norm3.weight',
        'norm3.bias',
    ]
    torch.testing.assert_close(net.stages[2][5].pwconv1.weight, saved['state_dict']['stages.2.5.pwconv1.weight'])


def test_a_file_without_convnext_weights_is_refused(tmp_path):
    src = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(1)}, src)
    tool = str(ROOT / 'tools/convert_checkpoint.py')
    proc = subprocess.run([sys.executable, tool, str(src), str(tmp_path / 'o.pth')], capture_output=True, text=True)
    assert proc.returncode != 0 and 'no ConvNeXt stages found' in proc.stderr
    assert not (tmp_path / 'o.pth').exists()
