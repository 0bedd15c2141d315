"""The roadmap experiment (convnext_dense/analysis/roadmap.py, tools/roadmap.py): the table and the figure on
fabricated run results, the widths each step gets, which runs are reused, and one tiny real run."""

import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from PIL import Image

import convnext_dense  # noqa: F401  (registration)
from convnext_dense.analysis import roadmap
from convnext_dense.errors import ConfigError, TrainingError
from convnext_dense.models import ModernizedResNet
from convnext_dense.models.roadmap_steps import PAPER_RESULTS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS = [  # fabricated: kernel_5 is a sibling not adopted; kernel_7 has seed 1 only
    dict(step='resnet', seed=0, metric=40.0, images_per_s=100.0),
    dict(step='resnet', seed=1, metric=43.0, images_per_s=120.0),
    dict(step='kernel_5', seed=0, metric=51.5, images_per_s=80.0),
    dict(step='kernel_5', seed=1, metric=52.5, images_per_s=None),
    dict(step='kernel_7', seed=1, metric=55.25, images_per_s=90.0),
]
COMPLEXITY = {'resnet': (4.0874, 23.508), 'kernel_5': (4.0971, 24.95), 'kernel_7': (4.1452, 25.09)}


def _cells(line):
    return [c.strip() for c in line.strip().strip('|').split('|')]


def test_markdown_table_numbers_and_means():
    lines = roadmap.markdown_table(RESULTS, 'cls', [0, 1], COMPLEXITY).splitlines()
    assert _cells(lines[0]) == [
        'step',
        'GFLOPs',
        'params (M)',
        'train images/s',
        'top-1 (%) seed 0',
        'top-1 (%) seed 1',
        'top-1 (%) mean',
        'paper IN-1K top-1',
    ]
    rows = {_cells(line)[0]: _cells(line) for line in lines[2:]}
    assert list(rows) == ['`resnet`', '`kernel_5` (not adopted)', '`kernel_7`']  # the roadmap's order
    assert rows['`resnet`'] == ['`resnet`', '4.09', '23.51', '110', '40.00', '43.00', '**41.50**', '78.82']
    assert rows['`kernel_5` (not adopted)'][3:7] == ['80', '51.50', '52.50', '**52.00**']
    assert rows['`kernel_7`'][4:8] == ['-', '55.25', '**55.25**', f"{PAPER_RESULTS['resnet50']['kernel_7'][0]:.2f}"]


def test_detection_metric_is_printed_as_ap_in_percent():
    results = [dict(step='gelu', seed=0, metric=0.123, images_per_s=5.0)]
    row = _cells(roadmap.markdown_table(results, 'det', [0], {}).splitlines()[2])
    assert row[4:6] == ['12.30', '**12.30**'] and row[1:3] == ['-', '-']


def test_figure_is_a_png_with_a_bar_per_step(tmp_path):
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    path = str(tmp_path / 'roadmap.png')
    drawn = {}
    original = plt.Figure.savefig

    def keep(fig, *args, **kwargs):  # read the drawn figure back before it is closed
        drawn['axes'] = fig.axes
        return original(fig, *args, **kwargs)

    plt.Figure.savefig = keep
    try:
        roadmap.plot_roadmap(RESULTS, 'cls', path)
    finally:
        plt.Figure.savefig = original
    with Image.open(path) as img:
        assert img.format == 'PNG' and img.size[0] > 500
    ours, paper = drawn['axes']
    assert [round(p.get_width(), 2) for p in ours.patches] == [41.5, 52.0, 55.25]
    assert [p.get_width() for p in paper.patches] == [PAPER_RESULTS['resnet50'][s][0] for s in COMPLEXITY]
    assert [p.get_hatch() for p in ours.patches] == [None, '//', None]  # kernel_5 marked as not adopted
    assert [t.get_text() for t in ours.get_yticklabels()] == ['resnet', 'kernel_5 (not adopted)', 'kernel_7']


@pytest.mark.parametrize('task', ['det', 'seg'])
@pytest.mark.parametrize('step', ['resnet', 'wider', 'inverted_bottleneck', 'separate_downsampling'])
def test_neck_and_head_widths_follow_the_step(task, step):
    """The options give the widths the step's backbone really emits (its maps, run on a small input)."""
    cfg = Config.fromfile(osp.join(ROOT, roadmap.TASKS[task].config))
    options = roadmap.run_options(cfg.model, step)
    kwargs = {k: v for k, v in cfg.model.backbone.items() if k not in ('type', 'step')}
    maps = ModernizedResNet(step=step, **kwargs).eval()(torch.zeros(1, 3, 64, 64))
    widths = [m.shape[1] for m in maps]
    assert options['model.backbone.step'] == step
    if task == 'det':
        assert options['model.neck.in_channels'] == widths
    else:
        assert options['model.decode_head.in_channels'] == widths
        assert options['model.auxiliary_head.in_channels'] == widths[cfg.model.auxiliary_head.in_index]


def test_a_classifier_needs_only_the_step():
    cfg = Config.fromfile(osp.join(ROOT, roadmap.TASKS['cls'].config))
    assert roadmap.run_options(cfg.model, 'wider') == {'model.backbone.step': 'wider'}


def test_another_backbone_is_refused():
    with pytest.raises(ConfigError, match="'ConvNeXt'.*ModernizedResNet"):
        roadmap.run_options(dict(backbone=dict(type='ConvNeXt')), 'resnet')


def _fake_run(run_dir, final=None, metric=None, times=(0.5, 0.25)):
    """What tools/train.py leaves: a run folder with its log and scalars, and the checkpoint files."""
    run = osp.join(run_dir, '20260101_120000')
    os.makedirs(osp.join(run, 'vis_data'))
    with open(osp.join(run, '20260101_120000.log'), 'w') as f:
        f.write('2026/01/01 12:00:00 - INFO - start\n2026/01/01 12:01:40 - INFO - end\n')
    records = [dict(loss=1.0, time=t, step=i) for i, t in enumerate(times)]
    records += [dict(step=len(times), **{'accuracy/top1': metric})] if metric is not None else []
    with open(osp.join(run, 'vis_data', 'scalars.json'), 'w') as f:
        f.write(''.join(json.dumps(r) + '\n' for r in records))
    if final:
        open(osp.join(run_dir, final), 'wb').close()
        with open(osp.join(run_dir, 'last_checkpoint'), 'w') as f:
            f.write(osp.join(run_dir, final))


def test_run_state(tmp_path):
    assert roadmap.run_state(str(tmp_path / 'a'), 'epoch_4.pth', 'accuracy/top1') == 'new'
    _fake_run(str(tmp_path / 'b'))
    assert roadmap.run_state(str(tmp_path / 'b'), 'epoch_4.pth', 'accuracy/top1') == 'interrupted'
    _fake_run(str(tmp_path / 'c'), final='epoch_2.pth', metric=50.0)  # evaluated, but not the last epoch
    assert roadmap.run_state(str(tmp_path / 'c'), 'epoch_4.pth', 'accuracy/top1') == 'interrupted'
    _fake_run(str(tmp_path / 'd'), final='epoch_4.pth', metric=61.0)
    assert roadmap.run_state(str(tmp_path / 'd'), 'epoch_4.pth', 'accuracy/top1') == 'finished'
    result = roadmap.read_result(str(tmp_path / 'd'), 'accuracy/top1', batch_size=8)
    assert result == dict(metric=61.0, images_per_s=8 * 2 / 0.75, seconds=100.0)
    _fake_run(str(tmp_path / 'e'), final='epoch_4.pth')
    with pytest.raises(TrainingError, match='no accuracy/top1 was logged'):
        roadmap.run_state(str(tmp_path / 'e'), 'epoch_4.pth', 'accuracy/top1')


def test_final_checkpoint_names():
    assert roadmap.final_checkpoint(dict(type='IterBasedTrainLoop', max_iters=300)) == 'iter_300.pth'
    assert roadmap.final_checkpoint(dict(by_epoch=True, max_epochs=4)) == 'epoch_4.pth'


def test_finished_runs_are_reused_not_trained(tmp_path, monkeypatch):
    """Every run finished: the roadmap writes its table from their logs and starts no training process."""
    work = str(tmp_path / 'roadmap')
    config = osp.join(ROOT, roadmap.TASKS['cls'].config)
    final = roadmap.final_checkpoint(Config.fromfile(config).train_cfg)
    metrics = {('resnet', 0): 30.0, ('resnet', 1): 34.0, ('gelu', 0): 45.0, ('gelu', 1): 47.0}
    for (step, seed), metric in metrics.items():
        _fake_run(osp.join(work, f'{step}_seed{seed}'), final=final, metric=metric)

    def no_training(*args, **kwargs):
        raise AssertionError(f'a finished run was trained again: {args}')

    monkeypatch.setattr(subprocess, 'run', no_training)
    lines = []
    results = roadmap.run_roadmap('cls', ['gelu', 'resnet'], [0, 1], config, work, log=lines.append)
    assert [(r['step'], r['seed'], r['metric']) for r in results] == [
        ('resnet', 0, 30.0),
        ('gelu', 0, 45.0),
        ('resnet', 1, 34.0),
        ('gelu', 1, 47.0),
    ]  # seeds outer, steps in the roadmap's order
    assert sum('finished before, reused' in line for line in lines) == 4
    with open(osp.join(work, 'roadmap.md')) as f:
        table = f.read()
    assert '| `resnet` | 4.' not in table  # the demo regime's GFLOPs, not ResNet-50's
    row = [line for line in table.splitlines() if line.startswith('| `gelu`')][0]
    assert _cells(row)[4:7] == ['45.00', '47.00', '**46.00**']
    assert osp.isfile(osp.join(work, 'roadmap.png'))
    with open(osp.join(work, 'roadmap.json')) as f:
        assert len(json.load(f)) == 4
    # The same run dirs with other options are another experiment: refused, not mixed in.
    with pytest.raises(ConfigError, match='give another --work-dir'):
        roadmap.run_roadmap('cls', ['gelu'], [0], config, work, ['model.backbone.drop_path_rate=0.2'], log=print)


def test_unknown_step_lists_the_steps(tmp_path):
    with pytest.raises(ConfigError, match='kernel_8') as info:
        roadmap.run_roadmap('cls', ['kernel_8'], [0], roadmap.TASKS['cls'].config, str(tmp_path))
    assert 'separate_downsampling' in str(info.value)


def test_complexity_of_the_paper_regime_is_docs_roadmap():
    backbone = dict(type='ModernizedResNet', regime='resnet50', out_indices=(3,), out_norm=False)  # a classifier's
    flops, params = roadmap.backbone_complexity(backbone, 'resnet')
    assert round(flops, 3) == 4.087 and round(params, 2) == 23.51  # docs/roadmap.md, Table 10


@pytest.mark.slow
def test_one_step_one_seed_trains_and_is_reused(tiny_folder, tmp_path):
    """tools/roadmap.py for real: one step, one seed, one epoch of 2 iterations on a 2-class folder; then again,
    which reuses it."""
    work = str(tmp_path / 'rm')
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools', 'roadmap.py'),
        '--task',
        'cls',
        '--steps',
        'fewer_norms',
        '--seeds',
        '3',
        '--work-dir',
        work,
        '--cfg-options',
        f'data_root={tiny_folder}',
        'model.num_classes=2',
        'val_evaluator.topk=1',
        'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1',
        'train_dataloader.batch_size=4',
        'val_dataloader.batch_size=4',
        'test_dataloader.batch_size=4',
    ]
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert '[1/1] fewer_norms seed 3: training' in first.stdout
    run_dir = osp.join(work, 'fewer_norms_seed3')
    assert osp.isfile(osp.join(run_dir, 'epoch_1.pth'))
    with open(osp.join(work, 'roadmap.json')) as f:
        (result,) = json.load(f)
    assert result['step'] == 'fewer_norms' and result['seed'] == 3 and 0.0 <= result['metric'] <= 100.0
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    assert again.returncode == 0 and 'finished before, reused' in again.stdout, again.stdout + again.stderr
