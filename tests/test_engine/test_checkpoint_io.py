"""Checkpoints are written atomically, mmengine checkpoints resume under torch >= 2.6 with the safe
loader, and importing the plugin leaves mmengine's own file backends and loaders as they were."""

import os

import pytest
import torch
import torch.nn as nn
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

import convnext_dense  # noqa: F401
from convnext_dense.engine import ATOMIC_BACKEND, AtomicLocalBackend, atomic_write, checkpoint_io


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / 'epoch_1.pth'
    target.write_bytes(b'complete old checkpoint')

    def broken_replace(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(checkpoint_io.os, 'replace', broken_replace)
    with pytest.raises(OSError, match='disk full'):
        atomic_write(b'new', target)
    assert target.read_bytes() == b'complete old checkpoint'
    assert os.listdir(tmp_path) == ['epoch_1.pth']


def test_the_atomic_backend_is_selected_by_name_and_mmengine_local_is_untouched(tmp_path):
    assert type(get_file_backend(str(tmp_path / 'x.pth'))) is LocalBackend
    assert CheckpointLoader._schemes[''].__module__.startswith('mmengine'), "the local loader is mmengine's own"
    backend = get_file_backend(str(tmp_path / 'x.pth'), backend_args=dict(backend=ATOMIC_BACKEND))
    assert isinstance(backend, AtomicLocalBackend)
    backend.put(b'abc', tmp_path / 'sub' / 'x.pth')
    assert (tmp_path / 'sub' / 'x.pth').read_bytes() == b'abc'


class ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(inputs)  # default_collate batches the dicts: inputs (B, 2), labels (B,)
        if mode == 'loss':
            return dict(loss=((out.squeeze(1) - labels) ** 2).mean())
        return out


class RecordEpochs(Hook):
    def __init__(self):
        self.seen = []

    def before_train_epoch(self, runner):
        self.seen.append(runner.epoch)


def _runner(work_dir, max_epochs, resume, hook, checkpoint_hook='SafeCheckpointHook'):
    data = [dict(inputs=torch.randn(2), labels=torch.randn(())) for _ in range(8)]
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'run{max_epochs}',
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            collate_fn=dict(type='default_collate'),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type=checkpoint_hook, interval=1, max_keep_ckpts=2), logger=None),
        custom_hooks=[hook],
        resume=resume,
        default_scope='mmengine',
    )


def test_training_resumes_from_the_last_checkpoint_with_the_safe_loader(tmp_path):
    first = RecordEpochs()
    runner = _runner(tmp_path, 3, False, first)
    runner.train()
    ckpt = tmp_path / 'epoch_3.pth'
    assert first.seen == [0, 1, 2] and ckpt.is_file()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == ['epoch_2.pth', 'epoch_3.pth']
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
    assert (tmp_path / 'last_checkpoint').read_text() == str(ckpt)
    # torch's safe loader reads mmengine's checkpoint (HistoryBuffer, numpy arrays and scalars allowed)
    saved = torch.load(ckpt, weights_only=True)['state_dict']['linear.weight']

    second = RecordEpochs()
    resumed = _runner(tmp_path, 4, True, second)
    resumed.train()
    assert second.seen == [3], 'resumed training starts after the last finished epoch'
    assert (tmp_path / 'epoch_4.pth').is_file()
    assert not torch.equal(resumed.model.linear.weight.detach(), saved), 'and it went on training'


def test_the_safe_loader_still_refuses_other_pickled_objects(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': RecordEpochs()}, path)
    with pytest.raises(Exception, match='[Ww]eights only load failed'):
        torch.load(path, weights_only=True)
