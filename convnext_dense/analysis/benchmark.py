"""The timing engine: every subject measured fairly on one machine, in interleaved rounds in one process.

Used by ``tools/benchmark.py`` for all three kinds of subject (:mod:`convnext_dense.analysis.subjects`:
a backbone, a config's whole model on synthetic inputs, a trained checkpoint on its test set). What
:func:`run` measures, per subject:

* inference images/s at its batch (no gradients, eval mode), latency at batch 1 (ms), and a training
  step's images/s (train mode), for the tasks the subject has;
* all subjects are timed in **interleaved rounds in one process** (round r times every subject once
  per task, in turn), after warm-up calls; each figure is the median over rounds with its min..max
  spread (and the mean rate: images over total time). On a shared machine the load changes during a
  run: interleaving makes the *ratios* fair even then. A trained model's call is ``test_step`` on its
  next test image, so its rounds walk through its test set, image by image, beside the others';
* the load average before and after (and in the progress log after every round);
* peak memory of each subject alone in a fresh subprocess (:mod:`convnext_dense.analysis.memory`);
* GFLOPs (multiply-adds, as the papers count them) and parameters;
* outputs: a backbone's outputs are compared with its family's first subject (same weights), as the
  largest absolute difference over the largest reference magnitude.

mmdet's ``tools/analysis_tools/benchmark.py`` times one model per process, one after the other; the
rounds here are what lets two models measured minutes apart under a changing load be compared.
"""

import os
import platform
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch

from .memory import peak_memory
from .subjects import Subject, build_subject

__all__ = ['TOLERANCE', 'device_name', 'load_average', 'profile_table', 'relative_error', 'run', 'scaling']

# Largest |a - b| / max|b| accepted as "equal outputs", per dtype (vs the fp32 reference).
TOLERANCE = {'fp32': 1e-4, 'bf16': 5e-2, 'fp16': 1e-2}


def load_average() -> str:
    """``uptime``'s load averages (1, 5, 15 min), as a string; '' where unknown."""
    try:
        return ' '.join(f'{v:.2f}' for v in os.getloadavg())
    except OSError:
        return ''


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's kind and core count."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)'


def _sync(device: torch.device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _timed(fn: Callable, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def relative_error(outs, refs) -> float:
    """Largest |a - b| over the largest |b|, over matching output tensors.

    Example:
        >>> relative_error((torch.tensor([1.0, 2.0]),), (torch.tensor([1.0, 4.0]),))
        0.5
    """
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    refs = refs if isinstance(refs, (tuple, list)) else (refs,)
    worst = 0.0
    for a, b in zip(outs, refs):
        a, b = a.detach().float().cpu(), b.detach().float().cpu()
        worst = max(worst, ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item())
    return worst


def _describe(subject: Subject) -> dict:
    s = subject.spec
    row = dict(name=subject.name, **{k: s.get(k) for k in ('model', 'dtype', 'channels_last', 'compile')})
    row['batch'] = subject.batch
    row['device'] = str(subject.device)
    row['size'] = list(subject.size)
    row.update(subject.describe())
    row.update(subject.complexity())
    return row


def _compare_outputs(subjects: Sequence[Subject], rows: List[dict]):
    """``max_rel_err`` and ``equal`` of each subject against the first of its family (None: not compared)."""
    refs: Dict[str, object] = {}
    for subject, row in zip(subjects, rows):
        if subject.family is None:
            row['max_rel_err'], row['equal'] = None, None
            continue
        outs = subject.infer()
        refs.setdefault(subject.family, outs)
        row['max_rel_err'] = relative_error(outs, refs[subject.family])
        row['equal'] = row['max_rel_err'] <= TOLERANCE[subject.dtype]


def _time_rounds(subjects, tasks, rounds, warmup, log) -> Dict[str, List[List[float]]]:
    """Per task and subject, the seconds of each timed call; round r times every subject once per task."""
    for subject in subjects:
        for task in tasks:
            if task in subject.tasks:
                for _ in range(warmup):
                    subject.call(task)
    timings = {task: [[] for _ in subjects] for task in tasks}
    every = max(1, rounds // 10)  # a trained model's rounds are its test images: log a tenth of them
    for r in range(rounds):
        for i, subject in enumerate(subjects):
            for task in tasks:
                if task in subject.tasks:
                    timings[task][i].append(_timed(lambda: subject.call(task), subject.device))  # noqa: B023
        if (r + 1) % every == 0 or r + 1 == rounds:
            log(f'round {r + 1}/{rounds} done (load {load_average()})')
    return timings


def _summarise(row: dict, task: str, t: List[float], batch: int):
    if not t:
        return
    if task == 'latency':
        row['latency_ms'] = 1000 * statistics.median(t)
        row['latency_spread_ms'] = [1000 * min(t), 1000 * max(t)]
        return
    row[f'{task}_img_s'] = batch / statistics.median(t)
    row[f'{task}_spread_img_s'] = [batch / max(t), batch / min(t)]
    row[f'{task}_mean_img_s'] = batch * len(t) / sum(t)
    row[f'{task}_calls'] = len(t)


def run(
    specs: Sequence[dict],
    rounds: int = 5,
    warmup: int = 2,
    tasks: Sequence[str] = ('infer', 'latency', 'train'),
    memory: bool = True,
    baseline: int = 0,
    log: Callable[[str], None] = print,
) -> dict:
    """Measure ``specs`` in interleaved rounds; return the JSON-able result ``dict(meta, rows)``.

    Args:
        specs: subject specs (:func:`~convnext_dense.analysis.subjects.build_subject`): backbones
            ``dict(model, device, dtype, batch, size, channels_last, compile[, arch])``,
            ``model='config:PATH'`` or ``model='trained:PATH'``.
        rounds: timed rounds; every subject runs once per task per round. Capped at the fewest test
            images a trained subject has beyond its warm-up ones.
        warmup: untimed calls per subject and task first (compilation happens there).
        tasks: of 'infer' (batch images/s), 'latency' (batch 1, ms) and 'train' (images/s of a step);
            each subject times those it has.
        memory: measure peak memory (not for compiled subjects on CPU: the compiler's own memory).
        baseline: index of the subject that ratios are relative to.
        log: progress printer.

    Returns:
        ``meta`` (machine, torch, threads, rounds, load average before and after, ...) and one row per
        spec: name, spec fields, params_m, gflops, ``<task>_img_s`` (median), ``<task>_spread_img_s``
        (min..max), ``<task>_mean_img_s``, ``latency_ms``, ratios to the baseline, peak_mem_mib,
        process_peak_mib, max_rel_err, equal.
    """
    load_before = load_average()
    subjects = [build_subject(s) for s in specs]
    limits = [s.max_rounds for s in subjects if s.max_rounds is not None]
    if limits and min(limits) < rounds:
        log(f'rounds: {min(limits)} (the fewest test images of a trained model beyond its warm-up), not {rounds}')
        rounds = min(limits)
    rows = [_describe(s) for s in subjects]
    _compare_outputs(subjects, rows)
    timings = _time_rounds(subjects, tasks, rounds, warmup, log)
    for i, (subject, row) in enumerate(zip(subjects, rows)):
        for task in tasks:
            _summarise(row, task, timings[task][i], subject.batch)
        row['peak_mem_mib'] = row['process_peak_mib'] = None
        if memory and not (subject.spec.get('compile') and subject.device.type == 'cpu'):
            peaks = peak_memory(subject.spec)
            row['peak_mem_mib'], row['process_peak_mib'] = peaks['peak_mib'], peaks['process_peak_mib']
    base = rows[baseline]
    for row in rows:
        for task in ('infer', 'train'):
            if f'{task}_img_s' in row and f'{task}_img_s' in base:
                row[f'{task}_ratio'] = row[f'{task}_img_s'] / base[f'{task}_img_s']
    meta = dict(
        torch=torch.__version__,
        device=device_name(subjects[0].device),
        threads=torch.get_num_threads(),
        rounds=rounds,
        warmup=warmup,
        load_before=load_before,
        load_after=load_average(),
        baseline=base['name'],
        python=platform.python_version(),
        date=time.strftime('%Y-%m-%d %H:%M:%S'),
    )
    return dict(meta=meta, rows=rows)


def profile_table(spec: dict, task: str = 'train', row_limit: int = 12) -> str:
    """``torch.profiler``'s table of the top operators (by self CPU time) of one call of ``task``."""
    from torch.profiler import ProfilerActivity, profile

    subject = build_subject(spec)
    subject.call(task)  # warm-up
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if subject.device.type == 'cuda' else [])
    with profile(activities=activities) as prof:
        subject.call(task)
        _sync(subject.device)
    key = 'self_cuda_time_total' if subject.device.type == 'cuda' else 'self_cpu_time_total'
    return f'{subject.name}, {task}:\n' + prof.key_averages().table(sort_by=key, row_limit=row_limit)


def scaling(
    models: Sequence[str],
    sizes: Sequence[int],
    batches: Sequence[int],
    device: str = 'cpu',
    rounds: int = 3,
    warmup: int = 1,
    memory: bool = True,
    arch: Optional[dict] = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Inference images/s and peak memory vs square input size (batch 1) and vs batch size (at 224).

    Each point is one :func:`run` of all ``models`` (interleaved), fp32, channels-last except Swin.
    """
    out = dict(meta=dict(device=device, threads=torch.get_num_threads(), load_before=load_average()), size=[], batch=[])
    for axis, points in (('size', sizes), ('batch', batches)):
        for p in points:
            size, batch = ((p, p), 1) if axis == 'size' else ((224, 224), p)
            specs = [
                dict(
                    model=m,
                    device=device,
                    dtype='fp32',
                    batch=batch,
                    size=size,
                    channels_last=m != 'swin',
                    compile=False,
                    arch=arch,
                )
                for m in models
            ]
            res = run(specs, rounds=rounds, warmup=warmup, tasks=('infer',), memory=memory, log=log)
            for m, row in zip(models, res['rows']):
                out[axis].append(
                    dict(
                        model=m,
                        point=p,
                        infer_img_s=row['infer_img_s'],
                        peak_mem_mib=row['peak_mem_mib'],
                        load=res['meta']['load_after'],
                    )
                )
            log(f'{axis} {p} done')
    out['meta']['load_after'] = load_average()
    return out
