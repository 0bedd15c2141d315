"""SafeCheckpointHook keeps the old checkpoints until a new one is complete; NonFiniteLossHook stops at the
first NaN/inf loss with the iteration and the terms; RandomStateHook restores the generators on resume."""

import os
import random

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

import convnext_dense  # noqa: F401
from convnext_dense.engine import checkpoint_io
from convnext_dense.engine.hooks import RandomStateHook


class ToyModel(BaseModel):
    """Linear regression whose loss turns NaN from iteration ``nan_from`` (1-based) on."""

    def __init__(self, nan_from=None):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.nan_from, self.calls = nan_from, 0

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(inputs)
        if mode != 'loss':
            return out
        self.calls += 1
        mse = ((out.squeeze(1) - labels) ** 2).mean()
        if self.nan_from is not None and self.calls >= self.nan_from:
            mse = mse * float('nan')
        return dict(loss_mse=mse, loss_l1=(out.squeeze(1) - labels).abs().mean())


def _runner(work_dir, model, max_iters, interval=1, max_keep=2, resume=False):
    data = [dict(inputs=torch.randn(2), labels=torch.randn(())) for _ in range(16)]
    return Runner(
        model=model,
        work_dir=str(work_dir),
        experiment_name=f'run{max_iters}{resume}',
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            batch_size=2,
            collate_fn=dict(type='default_collate'),
        ),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(
            checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=interval, max_keep_ckpts=max_keep),
            logger=None,
        ),
        custom_hooks=[dict(type='NonFiniteLossHook'), dict(type='RandomStateHook')],
        resume=resume,
        default_scope='mmengine',
        randomness=dict(seed=1),
    )


def test_non_finite_loss_stops_with_the_iteration_and_terms_and_keeps_the_last_good_checkpoint(tmp_path):
    runner = _runner(tmp_path, ToyModel(nan_from=3), max_iters=10)
    with pytest.raises(
        RuntimeError,
        match=r'Non-finite loss at iteration 3 .*loss, loss_mse are not finite '
        r'\(loss=nan, loss_mse=nan, loss_l1=[0-9.]+\).*iter_2\.pth.*--resume',
    ):
        runner.train()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == ['iter_1.pth', 'iter_2.pth']
    good = torch.load(tmp_path / 'iter_2.pth', weights_only=True)['state_dict']
    assert all(torch.isfinite(v).all() for v in good.values())
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_2.pth')


def test_a_failed_checkpoint_write_keeps_the_previous_files_and_pointer(tmp_path, monkeypatch):
    runner = _runner(tmp_path, ToyModel(), max_iters=3, max_keep=1)
    real_write = checkpoint_io.atomic_write
    calls = []

    def fail_on_iter_3(data, path):
        calls.append(str(path))
        if str(path).endswith('iter_3.pth'):
            raise OSError('No space left on device')
        real_write(data, path)

    monkeypatch.setattr(checkpoint_io, 'atomic_write', fail_on_iter_3)
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    # mmengine's CheckpointHook deletes iter_2.pth before writing iter_3.pth; ours only after.
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == ['iter_2.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_2.pth')
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]


def test_random_states_are_saved_and_restored_before_the_next_batch_after_the_replay(tmp_path):
    hook = RandomStateHook()
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    expected = (torch.rand(3), np.random.rand(3), random.random())  # what the next batch would draw
    torch.manual_seed(0), np.random.seed(0), random.seed(0)  # a new process
    path = tmp_path / 'c.pth'
    torch.save(checkpoint, path)
    hook.after_load_checkpoint(None, torch.load(path, weights_only=True))

    class Loop:  # mmengine's IterBasedTrainLoop after resuming at iteration 2
        _iter = 2
        dataloader_iterator = iter(lambda: (torch.rand(3), np.random.rand(3), random.random()), None)

    class FakeRunner:
        train_loop = Loop()

    runner = FakeRunner()
    hook.before_train_epoch(runner)
    batches = runner.train_loop.dataloader_iterator
    replayed = [next(batches) for _ in range(2)]  # mmengine's replay draws numbers too
    assert not torch.equal(replayed[0][0], expected[0])
    got = next(batches)
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]) and got[2] == expected[2]


def test_validation_does_not_change_the_training_random_stream():
    hook = RandomStateHook()
    torch.manual_seed(5)
    hook.before_val(None)
    torch.rand(100)  # the val dataloader and model draw numbers
    hook.after_val(None)
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(3))
