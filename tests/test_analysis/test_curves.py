"""Log curves and the summary table: handmade scalars.json files and a run of mmengine's own Runner, by epoch."""

import json
import os.path as osp
import runpy
import sys
import time

import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner

from convnext_dense.analysis import curves
from convnext_dense.errors import ConfigError, MissingFileError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _write_run(work_dir, stamp, records):
    run = osp.join(str(work_dir), stamp)
    (work_dir / stamp / 'vis_data').mkdir(parents=True)
    (work_dir / stamp / f'{stamp}.log').write_text('2026/01/01 00:00:00 - mmengine - INFO - start\n')
    with open(osp.join(run, 'vis_data', 'scalars.json'), 'w') as f:
        for r in records:
            f.write(json.dumps(r) + '\n')
    return run


def _iter_run(seed, n=30):
    """An iteration-based run: a training record every 10 iterations, an evaluation every 50."""
    rng = np.random.default_rng(seed)
    records = []
    for it in range(10, 10 * n + 1, 10):
        records.append(
            dict(
                lr=1e-3,
                loss=float(rng.uniform(0.5, 3)),
                loss_cls=float(rng.uniform(0, 1)),
                time=float(rng.uniform(0.2, 0.4)),
                data_time=0.01,
                iter=it,
                memory=100,
                step=it,
            )
        )
        if it % 50 == 0:
            records.append({'coco/bbox_mAP': float(rng.uniform(0, 0.6)), 'data_time': 0.01, 'time': 0.1, 'step': it})
    return records


def test_table_best_values_iterations_and_time_equal_the_json(tmp_path):
    a, b = _iter_run(0), _iter_run(1)
    runs = [a, b]
    table = curves.markdown_summary(runs, ['A', 'B'], ['coco/bbox_mAP', 'loss'])
    rows = [line.split(' | ') for line in table.splitlines()[2:]]
    for records, row in zip(runs, rows):
        # the oracle: straight from the records, without the module's series()
        maps = [(r['coco/bbox_mAP'], r['step']) for r in records if 'coco/bbox_mAP' in r]
        losses = [(r['loss'], r['iter']) for r in records if 'loss' in r]
        best_map = max(maps, key=lambda t: t[0])
        best_loss = min(losses, key=lambda t: t[0])
        times = [r['time'] for r in records if 'iter' in r]  # evaluation records' time is not a training step
        assert row[1] == f'{best_map[0]:.4g} ({best_map[1]})'
        assert row[2] == f'{best_loss[0]:.4g} ({best_loss[1]})'
        assert float(row[3].rstrip(' |')) == pytest.approx(sum(times) / len(times), abs=5e-4)


def test_unknown_key_and_missing_run_are_user_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"'coco/bbox_mAPP' is logged by none.*Did you mean 'coco/bbox_mAP'\?"):
        curves.markdown_summary([_iter_run(0)], ['A'], ['coco/bbox_mAPP'])
    with pytest.raises(MissingFileError, match='no_run.*scalars.json'):
        curves.load_runs([str(tmp_path / 'no_run')])
    with pytest.raises(ConfigError, match='--x iter'):
        curves.series(_iter_run(0), 'loss', x='epoch')


class _ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - labels) ** 2).mean())
        return [dict(pred=o) for o in out]


class _Calls(BaseMetric):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        self.calls += 1
        return dict(calls=float(self.calls))


def _toy_run(work_dir, by_epoch):
    """12 iterations (3 passes of 4 batches), logged every iteration, evaluated every 4 iterations (every epoch),
    with mmengine's default LoggerHook (log_metric_by_epoch=True, as mmdet's runtime)."""
    g = torch.Generator().manual_seed(0)
    data = [dict(inputs=torch.randn(2, generator=g), labels=torch.randn(1, generator=g)) for _ in range(8)]
    loader = dict(
        dataset=data,
        sampler=dict(type='DefaultSampler', shuffle=False) if by_epoch else dict(type='InfiniteSampler', shuffle=False),
        batch_size=2,
        collate_fn=dict(type='default_collate'),
    )
    train_cfg = (
        dict(by_epoch=True, max_epochs=3, val_interval=1)
        if by_epoch
        else dict(by_epoch=False, max_iters=12, val_interval=4)
    )
    Runner(
        model=_ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=loader,
        val_dataloader=dict(loader, sampler=dict(type='DefaultSampler', shuffle=False)),
        val_evaluator=[_Calls()],
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=train_cfg,
        val_cfg=dict(),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1), checkpoint=None),
        log_processor=dict(by_epoch=by_epoch),
        default_scope='mmengine',
        # mmengine keeps one logger and visualizer a name, by default the second's timestamp: two runs within
        # a second would share the first one's scalars.json
        experiment_name=f'toy_{by_epoch}_{time.time_ns()}',
    ).train()
    return curves.load_runs([str(work_dir)])[0]


def test_epoch_based_run_of_mmengine_puts_evaluations_at_the_end_of_their_epoch(tmp_path):
    records = _toy_run(tmp_path, by_epoch=True)
    assert [r['step'] for r in records if 'calls' in r] == [1, 2, 3]  # what mmengine writes: the epoch
    assert curves.series(records, 'calls', 'iter') == ([4, 8, 12], [1.0, 2.0, 3.0])
    assert curves.series(records, 'calls', 'epoch') == ([1, 2, 3], [1.0, 2.0, 3.0])
    xs, _ = curves.series(records, 'loss', 'epoch')
    assert xs == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0])
    assert curves.series(records, 'loss', 'iter')[0] == list(range(1, 13))
    assert curves.best(records, 'calls') == (3.0, 12)


def test_iteration_based_run_with_the_default_logger_puts_evaluations_at_their_iteration(tmp_path):
    """mmengine logs the evaluation's step as runner.epoch, which an IterBasedTrainLoop leaves at 0."""
    records = _toy_run(tmp_path, by_epoch=False)
    assert [r['step'] for r in records if 'calls' in r] == [0, 0, 0]
    assert curves.series(records, 'calls') == ([4, 8, 12], [1.0, 2.0, 3.0])
    assert curves.series(records, 'loss')[0] == list(range(1, 13))


def test_tool_plots_two_runs_and_writes_the_table(tmp_path, monkeypatch, capsys):
    from PIL import Image

    a = _write_run(tmp_path / 'convnext', '20260101_000000', _iter_run(0))
    b = _write_run(tmp_path / 'swin', '20260101_000000', _iter_run(1))
    out, table = tmp_path / 'c.png', tmp_path / 't.md'
    argv = ['tools/analyze_logs.py', str(tmp_path / 'convnext'), osp.join(b, 'vis_data', 'scalars.json')]
    argv += ['--legend', 'ConvNeXt', 'Swin', '--keys', 'loss', 'lr', 'coco/bbox_mAP', '--out', str(out)]
    monkeypatch.setattr(sys, 'argv', argv + ['--table', str(table)])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(osp.join(ROOT, 'tools', 'analyze_logs.py'), run_name='__main__')
    assert info.value.code == 0
    printed = capsys.readouterr().out
    assert table.read_text() in printed and '| ConvNeXt |' in printed and '| Swin |' in printed
    width, height = Image.open(out).size
    assert width > 2 * height  # three panels side by side
    assert curves.default_labels([str(tmp_path / 'convnext'), a]) == ['convnext', 'convnext']
