"""Hooks that make a long run safe to kill and to resume, selected by the configs' runtime files.

* :class:`SafeCheckpointHook` is mmengine's ``CheckpointHook`` with the order of its writes made
  crash-safe. mmengine 0.10.7 deletes the oldest checkpoint *before* it writes the new one
  (``max_keep_ckpts``), writes ``last_checkpoint`` with a plain ``open(..., 'w')`` and the ``.pth``
  through the file backend's non-atomic ``put``: a run killed at the wrong moment is left with a
  truncated ``.pth``, an empty pointer, or a pointer to a file already deleted, and ``--resume``
  fails. Here the ``.pth`` is written atomically (the ``atomic_local`` file backend, see
  :mod:`convnext_dense.engine.checkpoint_io`), then the pointer (atomically), and only then are old
  checkpoints deleted; temporary files of a killed write are removed when the next run starts.
  Its checkpoints also load with torch's safe loader (``weights_only=True``): mmengine pickles each
  ``HistoryBuffer`` of the message hub with its statistics *functions* (``getattr(HistoryBuffer,
  'min')``, which the safe loader refuses, rightly); this hook stores them by their values instead.
* :class:`RandomStateHook` saves the random number generators' states (Python, numpy, torch; every
  rank's) in each checkpoint and restores them when a run resumes, just before the next batch is
  fetched (after mmengine has replayed the dataloader). A resumed seeded run then continues exactly
  as an uninterrupted one would (same augmentations, same drop-path masks, same sampled RoIs), which
  mmengine alone does not do.
* :class:`NonFiniteLossHook` stops a run at the first NaN/inf loss with a message naming the
  iteration and every loss term, before a checkpoint of the broken weights can be written.

Two more hooks that mmengine and mmdet lack:

* :class:`UnswappedEMAHook` (classification pretraining) is mmengine's ``EMAHook`` saving
  checkpoints in the ConvNeXt release's layout, trained weights and EMA side by side.
* :class:`CocoOutfileHook` (detection) fills ``{log_dir}``, ``{work_dir}`` and ``{timestamp}`` in a
  metric's ``outfile_prefix`` (e.g. ``CocoMetric(outfile_prefix='{log_dir}/coco_val')``), because a
  config is written before the run's folder exists and mmengine does not template evaluator arguments.
"""

import glob
import os
import os.path as osp
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmengine.dist import all_gather_object, get_rank, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, EMAHook, Hook
from mmengine.logging import HistoryBuffer, print_log
from mmengine.registry import HOOKS
from mmengine.runner.checkpoint import load_state_dict

from ..errors import ConfigError, TrainingError
from ..utils import is_remote
from .checkpoint_io import ATOMIC_BACKEND, atomic_write


class _ValuesOnlyHistoryBuffer(HistoryBuffer):
    """Pickles as ``HistoryBuffer(log_history, count_history, max_length)``: plain lists, no functions."""

    @classmethod
    def of(cls, buffer: HistoryBuffer) -> 'HistoryBuffer':
        copy = cls.__new__(cls)
        copy.__dict__.update(buffer.__dict__)
        return copy

    def __reduce__(self):
        return HistoryBuffer, (self._log_history.tolist(), self._count_history.tolist(), self.max_length)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose files survive a kill at any moment (same arguments as mmengine's).

    Local checkpoints go through the ``atomic_local`` backend unless ``backend_args`` names another.
    """

    def __init__(self, *args, backend_args: Optional[dict] = None, **kwargs):
        out_dir = kwargs.get('out_dir')
        if backend_args is None and not is_remote(out_dir):
            backend_args = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, backend_args=backend_args, **kwargs)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        scalars = checkpoint.get('message_hub', {}).get('log_scalars', {})
        for key, buffer in scalars.items():  # copies made for the checkpoint: the live hub is untouched
            if type(buffer) is HistoryBuffer:
                scalars[key] = _ValuesOnlyHistoryBuffer.of(buffer)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process():
            # A run killed while writing leaves '.<name>.<random>.tmp' (never a truncated .pth).
            for stale in glob.glob(osp.join(str(self.out_dir), '.*.pth.*.tmp')):
                os.remove(stale)

    def _save_checkpoint_with_step(self, runner, step, meta):
        drop: List[int] = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            ids = list(self.keep_ckpt_ids) + [step]
            drop, kept = ids[: -self.max_keep_ckpts], ids[-self.max_keep_ckpts :]
            self.keep_ckpt_ids.clear()
            self.keep_ckpt_ids.extend(kept)
            runner.message_hub.update_info('keep_ckpt_ids', kept)  # recorded in the checkpoint itself

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        # runner.save_checkpoint and its before_save_checkpoint hooks run on rank 0 only (@master_only):
        # every rank's random states are gathered here, where all ranks are, and handed to RandomStateHook
        # through the checkpoint's meta (it moves them to checkpoint['random_state']).
        if get_world_size() > 1 and any(isinstance(hook, RandomStateHook) for hook in runner.hooks):
            meta = dict(meta or {}, random_states=all_gather_object(_random_state()))
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args,
        )
        if not is_main_process():
            return
        # The new checkpoint is complete on disk: point to it, then forget the old ones.
        atomic_write(str(self.last_ckpt).encode(), osp.join(runner.work_dir, 'last_checkpoint'))
        for old in drop:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)


def _random_state() -> Dict[str, object]:
    """This process's generator states as tensors and plain lists (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    return dict(
        torch=torch.get_rng_state(),
        cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        numpy=[np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        python=[py_version, list(py_internal), py_gauss],
    )


def _set_random_state(state: Dict[str, object]) -> None:
    torch.set_rng_state(state['torch'])
    if state['cuda'] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])
    name, keys, *rest = state['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))


class _RestoreBeforeFetch:
    """Wraps a train loop's dataloader iterator; calls ``restore`` once, just before batch ``skip + 1``."""

    def __init__(self, iterator, skip: int, restore):
        self._iterator, self._skip, self._restore, self._count = iterator, skip, restore, 0

    def __iter__(self):
        return self

    def __next__(self):
        if self._count == self._skip and self._restore is not None:
            self._restore()
            self._restore = None
        self._count += 1
        return next(self._iterator)

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save every rank's random states in checkpoints; restore them when the run resumes.

    The states are those with which the next training batch would have been drawn. On resume they are
    restored just before that batch is fetched: after mmengine's ``IterBasedTrainLoop`` has replayed
    the dataloader up to the checkpoint's iteration (the replay draws random numbers in the main
    process), or at the start of the epoch for epoch-based loops. Validation runs between saved
    states and later batches, so it gets its own random states and gives the training's back.
    A checkpoint from another number of processes resumes without them (with a warning). With several
    processes the checkpoint hook must be :class:`SafeCheckpointHook`, which gathers the other ranks' states.
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._pending: Optional[dict] = None
        self._outside_val: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # Called on rank 0 only: no collective here (the other ranks would never join it). With several
        # processes, SafeCheckpointHook has gathered every rank's states into the meta just before.
        gathered = checkpoint.get('meta', {}).pop('random_states', None)
        if get_world_size() == 1:
            checkpoint['random_state'] = [_random_state()]
        elif gathered is not None:
            checkpoint['random_state'] = gathered

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('random_state')
        if states is None:
            return
        if len(states) != get_world_size():
            print_log(
                f'RandomStateHook: the checkpoint holds the random states of {len(states)} processes and this '
                f'run has {get_world_size()}; training resumes with fresh random states.',
                logger='current',
                level=30,
            )
            return
        self._pending = states[get_rank()]

    def _restore_pending(self) -> None:
        if self._pending is not None:
            _set_random_state(self._pending)
            self._pending = None

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        skip = getattr(loop, '_iter', 0) if hasattr(loop, 'dataloader_iterator') else 0
        if skip > 0:  # IterBasedTrainLoop: it replays `skip` batches after this hook
            loop.dataloader_iterator = _RestoreBeforeFetch(loop.dataloader_iterator, skip, self._restore_pending)
        else:
            self._restore_pending()

    def before_val(self, runner) -> None:
        self._outside_val = _random_state()

    def after_val(self, runner) -> None:
        if self._outside_val is not None:
            _set_random_state(self._outside_val)
            self._outside_val = None


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first iteration whose loss terms are not all finite.

    Runs before the checkpoint hook, so the weights updated with a NaN/inf gradient are never saved;
    the last checkpoint written stays the last good one.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None) -> None:
        if not outputs:
            return
        values = {
            k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v)
            for k, v in outputs.items()
            if isinstance(v, (torch.Tensor, float, int))
        }
        bad = [k for k, v in values.items() if not np.isfinite(v)]
        if not bad:
            return
        last = runner.message_hub.get_info('last_ckpt')
        terms = ', '.join(f'{k}={v:.4g}' for k, v in values.items())
        raise TrainingError(
            f'Non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): {", ".join(bad)} '
            f'{"is" if len(bad) == 1 else "are"} not finite ({terms}). Training stopped before this '
            f'iteration\'s weights were saved; the last good checkpoint is {last or "none (none was written yet)"}. '
            f'Lower the learning rate (optim_wrapper.optimizer.lr), add gradient clipping '
            f'(optim_wrapper.clip_grad=dict(max_norm=1.0)) or check the data, then continue with --resume.'
        )


@HOOKS.register_module()
class UnswappedEMAHook(EMAHook):
    """:class:`~mmengine.hooks.EMAHook` whose checkpoints keep ``state_dict`` = trained, ``ema_state_dict`` = EMA.

    mmengine's ``EMAHook`` averages the weights (``momentum`` = 1 - decay; the release's decay 0.9999 is
    ``momentum=1e-4``) and evaluates with the average. When it saves a checkpoint, however, it *swaps*
    the two: ``state_dict`` holds the EMA and ``ema_state_dict`` the trained weights. The ConvNeXt
    release keeps them apart (``model`` = trained, ``model_ema`` = EMA), detection and segmentation
    start from the trained (non-EMA) weights, and :func:`convnext_dense.models.load_pretrained` reads
    ``state_dict`` by default and ``ema_state_dict`` with ``use_ema=True``. This subclass only drops
    the swap, so the names mean what they say: ``state_dict`` is the trained weights (what
    ``load_from``, fine-tuning and ``load_pretrained`` use), ``ema_state_dict`` the EMA
    (``module.``-prefixed, plus the ``steps`` counter), used on resume and by validation/test.
    Averaging, validation with the EMA and resuming are the parent's code.

    Args: as :class:`~mmengine.hooks.EMAHook`, e.g. ``dict(type='UnswappedEMAHook', momentum=1e-4,
    priority='ABOVE_NORMAL')``.
    """

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['ema_state_dict'] = self.ema_model.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the EMA from ``ema_state_dict`` (resume, test, load_from); without it, start it from the weights."""
        if 'ema_state_dict' in checkpoint:
            # mmengine's tolerant loader: a fine-tuning head of another shape is reported, not fatal.
            load_state_dict(self.ema_model, checkpoint['ema_state_dict'], strict=self.strict_load)
        else:
            super().after_load_checkpoint(runner, checkpoint)


@MMDET_HOOKS.register_module()
class CocoOutfileHook(Hook):
    """Resolve ``{log_dir}``, ``{work_dir}`` and ``{timestamp}`` in evaluators' ``outfile_prefix``.

    Example:
        ``val_evaluator=dict(type='CocoMetric', outfile_prefix='{log_dir}/coco_val', ...)`` writes
        ``work_dirs/<config>/<timestamp>/coco_val.bbox.json`` (and ``.segm.json``).
    """

    priority = 'VERY_HIGH'

    def before_val(self, runner) -> None:
        self._resolve(runner, runner.val_loop.evaluator)

    def before_test(self, runner) -> None:
        self._resolve(runner, runner.test_loop.evaluator)

    @staticmethod
    def _resolve(runner, evaluator) -> None:
        fields = dict(log_dir=runner.log_dir, work_dir=runner.work_dir, timestamp=runner.timestamp)
        for metric in evaluator.metrics:
            prefix = getattr(metric, 'outfile_prefix', None)
            if not isinstance(prefix, str):
                continue
            for key, value in fields.items():
                prefix = prefix.replace('{' + key + '}', str(value))
            if '{' in prefix or '}' in prefix:
                raise ConfigError(
                    f'{type(metric).__name__}.outfile_prefix={metric.outfile_prefix!r} holds an unknown '
                    f'field; CocoOutfileHook fills only {{log_dir}}, {{work_dir}} and {{timestamp}}'
                )
            metric.outfile_prefix = prefix
