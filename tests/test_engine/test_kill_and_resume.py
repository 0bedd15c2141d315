"""A seeded CPU training run, SIGKILLed mid-iteration or while a checkpoint is being written, resumes with
``tools/train.py --resume`` and ends with the weights of an uninterrupted run of the same length.

The run is the detection demo (Cascade Mask R-CNN, small ConvNeXt) on a tiny synthetic COCO set:
augmentation (flip, multi-scale), RoI sampling (``torch.randperm``) and the data order all draw
random numbers, so an exact match needs the random states restored (``RandomStateHook``) and the
dataloader replayed (mmengine's ``IterBasedTrainLoop``). ``max_keep_ckpts=1`` makes the checkpoint
hook delete files: ``last_checkpoint`` must never name one that is gone.
"""

import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from convnext_dense.datasets.synthetic import generate_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MAX_ITERS = 6

CONFIG = """
_base_ = '{root}/configs/detection/demo/cascade_convnext_demo.py'
custom_imports = dict(imports=['convnext_dense', 'convnext_dense.datasets', 'slow_checkpoint_plugin'],
                      allow_failed_imports=False)
data_root = '{data}/'
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_iters={iters}, val_interval=1000)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end={iters})]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2, max_keep_ckpts=1), logger=dict(interval=1))
# the demo's hooks, and one that makes checkpoints large, so that a write takes long enough to be killed in
custom_hooks = [dict(type='NumClassCheckHook'), dict(type='CocoOutfileHook'), dict(type='NonFiniteLossHook'),
                dict(type='RandomStateHook'), dict(type='PadCheckpointHook')]
randomness = dict(seed=7)
"""


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    root = tmp_path_factory.mktemp('resume')
    generate_coco(str(root / 'data'), num_train=12, num_val=2, image_size=64, empty_prob=0.0)
    path = root / 'cfg.py'
    path.write_text(CONFIG.format(root=ROOT, data=root / 'data', iters=MAX_ITERS))
    return str(path)


def _cmd(config, work_dir, *extra):
    return [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', str(work_dir), *extra]


def _env():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([osp.dirname(__file__), ROOT]), OMP_NUM_THREADS='1')
    return env


def _train(config, work_dir, *extra):
    proc = subprocess.run(_cmd(config, work_dir, *extra), env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _kill_when(config, work_dir, ready, timeout=300):
    """Start a run and SIGKILL it as soon as ``ready()`` holds (polled every millisecond)."""
    proc = subprocess.Popen(_cmd(config, work_dir), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    try:
        while not ready():
            assert proc.poll() is None, 'the run ended before it could be killed'
            assert time.time() < deadline, 'timed out waiting for the moment to kill'
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _pointer(work_dir):
    path = osp.join(work_dir, 'last_checkpoint')
    return open(path).read().strip() if osp.exists(path) else None


def _assert_pointer_is_valid(work_dir):
    target = _pointer(work_dir)
    assert target and osp.isfile(target), f'last_checkpoint names {target!r}, which does not exist'
    torch.load(target, map_location='cpu', weights_only=True)  # complete, and loads with the safe loader


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def reference(config, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    _train(config, work_dir)
    assert sorted(f for f in os.listdir(work_dir) if f.endswith('.pth')) == [f'iter_{MAX_ITERS}.pth']
    return _weights(osp.join(work_dir, f'iter_{MAX_ITERS}.pth'))


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.e2e  # trains, kills and resumes runs
def test_kill_mid_iteration_then_resume_equals_an_uninterrupted_run(config, reference, tmp_path):
    ckpt4 = str(tmp_path / 'iter_4.pth')
    _kill_when(config, tmp_path, lambda: _pointer(tmp_path) == ckpt4)  # iteration 5 is under way
    _assert_pointer_is_valid(tmp_path)
    resumed = _train(config, tmp_path, '--resume')
    assert 'Advance dataloader 4 steps' in resumed.stdout + resumed.stderr
    _assert_same_weights(_weights(tmp_path / f'iter_{MAX_ITERS}.pth'), reference)


@pytest.mark.e2e  # trains, kills and resumes runs
def test_kill_while_writing_a_checkpoint_then_resume_equals_an_uninterrupted_run(config, reference, tmp_path):
    def writing_iter_4():
        return any(f.startswith('.iter_4.pth.') and f.endswith('.tmp') for f in os.listdir(tmp_path))

    _kill_when(config, tmp_path, writing_iter_4)
    assert not osp.exists(tmp_path / 'iter_4.pth'), 'a killed write must not leave a (truncated) checkpoint'
    assert _pointer(tmp_path) == str(tmp_path / 'iter_2.pth')
    _assert_pointer_is_valid(tmp_path)
    resumed = _train(config, tmp_path, '--resume')
    assert 'Advance dataloader 2 steps' in resumed.stdout + resumed.stderr
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')], "the killed write's temporary is cleaned up"
    _assert_same_weights(_weights(tmp_path / f'iter_{MAX_ITERS}.pth'), reference)
