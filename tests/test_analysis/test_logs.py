"""The run-log reader on a work dir written by mmengine's own Runner, and on hand-written runs for the edge cases."""

import json
import os
import os.path as osp
from pathlib import Path

import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner

from convnext_dense.analysis import logs


class ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - labels) ** 2).mean())
        return [dict(pred=o) for o in out]


class CallCount(BaseMetric):
    """Evaluations so far: 1.0 at the first validation, 2.0 at the second."""

    calls = 0

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        CallCount.calls += 1
        return dict(calls=float(CallCount.calls))


@pytest.fixture(scope='module')
def work_dir(tmp_path_factory):
    """A 4-iteration run of mmengine's Runner: validation and a checkpoint every 2 iterations."""
    work = str(tmp_path_factory.mktemp('toy_run'))
    g = torch.Generator().manual_seed(0)
    data = [dict(inputs=torch.randn(2, generator=g), labels=torch.randn(1, generator=g)) for _ in range(8)]
    loader = dict(
        dataset=data,
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2,
        collate_fn=dict(type='default_collate'),
    )
    runner = Runner(
        model=ToyModel(),
        work_dir=work,
        train_dataloader=loader,
        val_dataloader=loader,
        val_evaluator=[CallCount()],
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=4, val_interval=2),
        val_cfg=dict(),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),  # step = iteration
        ),
        log_processor=dict(by_epoch=False),
        default_scope='mmengine',
    )
    runner.train()
    return work


def test_metrics_wall_time_and_checkpoint_of_an_mmengine_run(work_dir):
    run = logs.newest_run(work_dir)
    assert run is not None and logs.runs(work_dir) == [run] and osp.dirname(run) == work_dir
    records = logs.read_scalars(work_dir)
    assert records == logs.read_scalars(run) == logs.read_scalars(osp.join(run, 'vis_data', 'scalars.json'))
    assert [r['step'] for r in records if 'loss' in r] == [1, 2, 3, 4]
    assert [(r['step'], r['calls']) for r in logs.metric_records(work_dir, ['calls'])] == [(2, 1.0), (4, 2.0)]
    assert logs.last_metrics(work_dir, ['calls', 'absent']) == {'calls': 2.0}
    assert logs.last_metrics(work_dir, ['absent']) == {}
    seconds = logs.wall_time_s(run)
    assert seconds is not None and 0 <= seconds < 600
    assert logs.latest_checkpoint(work_dir) == osp.join(work_dir, 'iter_4.pth')


def _run(work_dir: str, stamp: str, miou=None, log=True) -> str:
    run = Path(work_dir, stamp)
    (run / 'vis_data').mkdir(parents=True)
    if log:
        (run / f'{stamp}.log').write_text('2026/01/01 00:00:00 - mmengine - INFO - one line: no duration\n')
    if miou is not None:
        (run / 'vis_data' / 'scalars.json').write_text(json.dumps(dict(mIoU=miou, step=10)) + '\n')
    return str(run)


def test_the_newest_run_with_a_log_is_read(tmp_path):
    work = str(tmp_path)
    older = _run(work, '20260101_000000', miou=10.0)
    newer = _run(work, '20260102_000000', miou=20.0)
    _run(work, '20260103_000000', miou=30.0, log=False)  # no log: not a run mmengine started
    os.makedirs(osp.join(work, 'vis'))  # other folders of a work dir are not runs
    assert logs.runs(work) == [older, newer] and logs.newest_run(work) == newer
    assert logs.last_metrics(work, ['mIoU']) == {'mIoU': 20.0}
    assert logs.last_metrics(older, ['mIoU']) == {'mIoU': 10.0}
    assert logs.wall_time_s(newer) is None  # one time-stamped line: no span
    assert logs.newest_run(str(tmp_path / 'absent')) is None and logs.read_scalars(str(tmp_path / 'absent')) == []


def test_latest_checkpoint_names_a_missing_or_stale_pointer(tmp_path):
    with pytest.raises(FileNotFoundError, match='has no last_checkpoint'):
        logs.latest_checkpoint(str(tmp_path))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_8.pth'))
    with pytest.raises(FileNotFoundError, match='iter_8.pth.*does not exist'):
        logs.latest_checkpoint(str(tmp_path))
