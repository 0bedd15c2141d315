"""A trained checkpoint on its test set goes through the same timing engine as a backbone.

The "trained" model is the segmentation demo with every tensor randomised, saved by mmengine's own
``save_checkpoint``; its test set is a tiny synthetic ADE20K; its run is a scalars.json and a log
written here as mmengine writes them.
"""

import json
import os.path as osp
import re
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import save_checkpoint

from convnext_dense import analysis
from convnext_dense.analysis.subjects import Subject, TrainedSubject

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))
import benchmark as tool  # noqa: E402  (tools/benchmark.py)

SEG_DEMO = ROOT / 'configs/segmentation/demo/upernet_convnext_demo.py'
TINY_BACKBONE = dict(model='convnext', arch=dict(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)), batch=1, size=[32, 32])


@pytest.fixture(scope='module')
def trained(tmp_path_factory, synthetic_set):
    """``(config, checkpoint, state)``: the demo pointed at 5 small test images, a randomised checkpoint."""
    root = synthetic_set('ade', num_train=2, num_val=5, image_size=64, seed=0)
    out = tmp_path_factory.mktemp('trained')
    cfg = Config.fromfile(str(SEG_DEMO))
    cfg.test_dataloader.dataset.data_root = root
    config = str(out / 'seg_demo.py')
    cfg.dump(config)
    model = analysis.build_model(cfg)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    checkpoint = str(out / 'iter_4.pth')
    save_checkpoint(dict(meta=dict(iter=4), state_dict=model.state_dict()), checkpoint)
    return config, checkpoint, {k: v.clone() for k, v in model.state_dict().items()}


def test_trained_subject_loads_the_checkpoint_and_walks_its_test_images(trained):
    config, checkpoint, state = trained
    subject = TrainedSubject(analysis.trained_spec(config, checkpoint, num_images=3, warmup=1))
    for key, value in subject.module.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert len(subject.batches) == 4 and subject.max_rounds == 3
    assert subject.size == tuple(subject.batches[1]['data_samples'][0].ori_shape)  # the first timed image
    shown = [subject.infer()[0].img_path for _ in range(5)]  # every call the next image, then round again
    assert len(set(shown[:4])) == 4 and shown[4] == shown[0]
    peaks = analysis.peak_memory(subject.spec)  # the same fresh-subprocess worker as the backbones'
    assert 0 < peaks['peak_mib'] < peaks['process_peak_mib']


def test_trained_and_backbone_subjects_share_the_engine_and_its_rounds(trained, monkeypatch):
    config, checkpoint, _ = trained
    calls = []
    call = Subject.call
    monkeypatch.setattr(Subject, 'call', lambda self, task: calls.append(type(self).__name__) or call(self, task))
    specs = [TINY_BACKBONE, analysis.trained_spec(config, checkpoint, num_images=9, warmup=1)]
    result = analysis.run(specs, rounds=9, warmup=1, tasks=('infer',), memory=False, log=lambda _: None)
    # 5 images, 1 for warm-up: at most 4 rounds measure something new
    assert result['meta']['rounds'] == 4
    timed = calls[-8:]  # after the outputs check and the warm-ups: the subjects alternate round by round
    assert timed == ['BackboneSubject', 'TrainedSubject'] * 4
    for row in result['rows']:
        assert row['infer_img_s'] > 0 and row['infer_mean_img_s'] > 0 and row['infer_calls'] == 4
        assert row['infer_spread_img_s'][0] <= row['infer_img_s'] <= row['infer_spread_img_s'][1]
    backbone, model = result['rows']
    assert backbone['equal'] and model['equal'] is None and model['checkpoint'] == checkpoint
    assert len(model['size']) == 2 and model['scope'] == 'mmseg'


def write_run(work_dir: str, miou: float) -> str:
    """A finished run as mmengine leaves it: ``<timestamp>/<timestamp>.log`` and ``vis_data/scalars.json``."""
    run = osp.join(work_dir, '20260102_030405')
    Path(run, 'vis_data').mkdir(parents=True)
    Path(run, '20260102_030405.log').write_text(
        '2026/01/02 03:04:05 - mmengine - INFO - Config:\n'
        '2026/01/02 03:04:09 - mmengine - INFO - Iter(train) [4/4]  lr: 1.0e-04  loss: 1.2\n'
        '2026/01/02 03:05:15 - mmengine - INFO - Iter(val) [5/5]    aAcc: 90.0  mIoU: 40.0\n'
    )
    records = [dict(lr=1e-4, loss=1.2, step=4), dict(aAcc=90.0, mIoU=miou, step=4)]
    Path(run, 'vis_data', 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in records))
    return run


def test_trained_model_report_reads_the_run_and_times_every_model(trained, tmp_path, capsys):
    config, checkpoint, _ = trained
    work_a, work_b = str(tmp_path / 'a'), str(tmp_path / 'b')
    run = write_run(work_a, miou=41.5)
    Path(work_a, 'last_checkpoint').write_text(checkpoint)
    out = tmp_path / 'report.md'
    argv = [config, config, '--work-dirs', work_a, work_b, '--checkpoints', 'latest', 'none', '--names', 'A', 'B']
    result = tool.main(argv + ['--num-images', '3', '--warmup', '1', '--no-memory', '--out', str(out)])
    first, second = result['table']
    assert first['model'] == 'A' and first['mIoU'] == 41.5 and first['aAcc'] == 90.0
    assert first['train wall time (s)'] == 70.0 and first['run'] == run and first['checkpoint'] == checkpoint
    assert second['run'] == 'no run found' and second['checkpoint'] == 'random init' and 'mIoU' not in second
    for row in (first, second):
        assert row['images/s'] > 0 and row['timed images'] == 3 and re.fullmatch(r'\d+x\d+', row['image size (HxW)'])
    table = out.read_text()
    assert '| model | mIoU | aAcc | train wall time (s) | params (M) | images/s |' in table
    assert 'each of 3 interleaved rounds' in table and '| A | 41.50 | 90.00 | 70.00 |' in table
    assert table in capsys.readouterr().out


def test_latest_checkpoint_without_a_saved_run_is_a_user_error(trained, tmp_path):
    config, _, _ = trained
    with pytest.raises(FileNotFoundError, match='has no last_checkpoint'):
        tool.main([config, '--work-dirs', str(tmp_path), '--checkpoints', 'latest'])
    with pytest.raises(FileNotFoundError, match="checkpoint 'nope.pth' does not exist"):
        tool.main([config, '--checkpoints', 'nope.pth'])
