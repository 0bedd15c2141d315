"""The ERF against analytic cases: stacks of all-ones convolutions, a real ConvNeXt stage, the area ratio."""

import os.path as osp
import runpy
import sys

import numpy as np
import pytest
import torch

from convnext_dense.analysis import erf
from convnext_dense.apis import load_config
from convnext_dense.errors import CheckpointError, MissingFileError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs/detection/demo/cascade_convnext_demo.py')


def _ones_stack(n, k):
    layers = [torch.nn.Conv2d(3 if i == 0 else 1, 1, k, padding=k // 2, bias=False) for i in range(n)]
    for layer in layers:
        torch.nn.init.ones_(layer.weight)
    return torch.nn.Sequential(*layers).double()


@pytest.mark.parametrize('n, k', [(1, 3), (2, 3), (3, 5), (4, 7)])
def test_stack_of_all_ones_convs_has_the_analytic_field(n, k):
    """n k x k convs: n(k-1)+1 pixels wide, each pixel weighted by its number of paths (the box kernel convolved
    n times with itself, in each direction), times 3 input channels; exactly zero outside."""
    size = 41
    g = torch.Generator().manual_seed(n * k)
    images = [torch.rand(3, size, size, generator=g, dtype=torch.float64) for _ in range(3)]
    grid = erf.erf_map(_ones_stack(n, k), images, batch_size=2).numpy()
    paths = np.array([1.0])
    for _ in range(n):
        paths = np.convolve(paths, np.ones(k))
    side = n * (k - 1) + 1
    assert len(paths) == side
    expected = np.zeros((size, size))
    lo = size // 2 - side // 2
    expected[lo : lo + side, lo : lo + side] = 3 * np.outer(paths, paths)
    np.testing.assert_array_equal(grid, expected)
    assert (grid[lo : lo + side, lo : lo + side] > 0).all() and (grid > 0).sum() == side * side


def test_a_convnext_stage_sees_exactly_its_receptive_field():
    """Stage 0 of the demo's ConvNeXt: the 4x4 stem patch of the central point, widened by its one 7x7 depthwise
    conv to 3 patches each side (LayerNorms and 1x1 convs act per position): 28 x 28 pixels, nothing outside."""
    cfg = load_config(DEMO)
    backbone = erf.backbone_from_config(cfg)
    g = torch.Generator().manual_seed(0)
    images = [torch.randn(3, 64, 64, generator=g) for _ in range(2)]
    grid = erf.erf_map(backbone, images, stage=0, rectify='abs').numpy()
    centre = 64 // 4 // 2  # the central point of the 16 x 16 map: input pixels 32..35
    lo, hi = 4 * (centre - 3), 4 * (centre + 3) + 4  # 20 .. 48
    inside = np.zeros_like(grid, dtype=bool)
    inside[lo:hi, lo:hi] = True
    assert (grid[~inside] == 0).all() and (grid[inside] > 0).all()


def test_area_ratio_follows_replknet_get_rectangle():
    uniform = np.ones((21, 21))
    # side 2i+1 holds (2i+1)^2 / 441 of the sum: > 0.2 first at side 11 (121/441 = 0.274), > 0.5 at 15 (225/441)
    assert erf.area_ratio(uniform, 0.2) == (11, 121 / 441)
    assert erf.area_ratio(uniform, 0.5) == (15, 225 / 441)
    assert erf.area_ratio(uniform, 0.99) is None  # only the whole image holds 99 %
    peak = np.zeros((21, 21))
    peak[10, 10] = 1.0
    assert erf.area_ratios(peak) == {t: 9 / 441 for t in erf.THRESHOLDS}
    np.testing.assert_allclose(erf.log_scale(np.array([[0.0, 9.0], [99.0, 0.0]])), [[0, 0.5], [1, 0]])


def test_trained_weights_are_loaded_strictly(tmp_path):
    cfg = load_config(DEMO)
    trained = erf.backbone_from_config(cfg)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)
    ckpt = tmp_path / 'iter_1.pth'
    state = {f'backbone.{k}': v for k, v in trained.state_dict().items()}
    torch.save(dict(state_dict=dict(state, **{'neck.w': torch.zeros(1)})), ckpt)
    loaded = erf.backbone_from_config(cfg, str(ckpt))
    for a, b in zip(loaded.state_dict().values(), trained.state_dict().values()):
        assert torch.equal(a, b)
    state.pop('backbone.stages.0.0.gamma')
    torch.save(dict(state_dict=state), ckpt)
    with pytest.raises(CheckpointError, match='1 weights missing.*stages.0.0.gamma'):
        erf.backbone_from_config(cfg, str(ckpt))
    with pytest.raises(MissingFileError, match='no_such.pth.*does not exist.*tools/train.py'):
        erf.backbone_from_config(cfg, str(tmp_path / 'no_such.pth'))


def test_swin_of_mmdet_builds_from_its_config():
    """mmdet's SwinTransformer.train() returns None: the backbone must not be taken from .eval()'s result."""
    cfg = load_config(osp.join(ROOT, 'configs/detection/demo/cascade_swin_demo.py'))
    backbone = erf.backbone_from_config(cfg)
    assert type(backbone).__name__ == 'SwinTransformer' and not backbone.training
    grid = erf.erf_map(backbone, [torch.randn(3, 64, 64)], rectify='abs')
    assert grid.shape == (64, 64) and grid[32, 32] > 0


def test_tool_writes_the_grid_and_the_ratios(synthetic_set, tmp_path, monkeypatch, capsys):
    images = osp.join(synthetic_set('coco', num_train=2, num_val=2, image_size=64, seed=0), 'val')
    out = tmp_path / 'erf.png'
    argv = ['tools/erf.py', DEMO, '--images', images, '--num-images', '2', '--size', '64', '--out', str(out)]
    argv += ['--variant', 'model.backbone.arch.dims=[8,16,32,64]', '--variant', 'model.backbone.out_norm=False']
    monkeypatch.setattr(sys, 'argv', argv)
    with pytest.raises(SystemExit) as info:
        runpy.run_path(osp.join(ROOT, 'tools', 'erf.py'), run_name='__main__')
    assert info.value.code == 0, capsys.readouterr().err
    table = (tmp_path / 'erf.md').read_text()
    assert table.count('| cascade_convnext_demo') == 2 and '2 images' in table and out.is_file()
