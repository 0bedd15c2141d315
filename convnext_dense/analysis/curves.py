"""Curves of any logged scalar against iteration or epoch, for one or more runs, and a summary table.

mmengine's ``Runner`` writes every logged scalar into ``<work_dir>/<timestamp>/vis_data/scalars.json``
(read by :mod:`convnext_dense.analysis.logs`): training records (losses, ``lr``, ``time``, ``data_time``,
``iter``, ``epoch`` where the run counts epochs, ``step``) and evaluation records (``coco/bbox_mAP``,
``mIoU``, ``accuracy/top1``, ...; their ``step`` is the epoch of an epoch-based run, else the iteration).

Written here rather than taken from mmdet's and mmseg's ``.mim/tools/analysis_tools/analyze_logs.py``:
both import ``seaborn`` (not a dependency of the OpenMMLab wheels, nor of this project), mmdet's reads
only records with an ``epoch`` key (the pre-mmengine json log; an iteration-based run's scalars.json has
none), and mmseg's plots only its three segmentation metrics against the evaluation step. What they do
is kept: one line a run and key, markers on evaluations, the mean time per iteration.

Example:
    >>> records = [dict(loss=2.0, lr=0.1, time=0.5, iter=10, step=10), dict(loss=1.0, lr=0.1, time=0.7, iter=20,
    ...            step=20), dict(mIoU=40.0, step=20), dict(loss=1.5, lr=0.1, time=0.6, iter=30, step=30),
    ...            dict(mIoU=35.0, step=30)]
    >>> series(records, 'loss')
    ([10, 20, 30], [2.0, 1.0, 1.5])
    >>> summary_row(records, ['mIoU', 'loss'])
    {'mIoU': (40.0, 20), 'loss': (1.0, 20), 'time': 0.6}
"""

import difflib
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import ConfigError, MissingFileError
from . import logs

__all__ = [
    'TIME_KEY',
    'best',
    'is_lower_better',
    'load_runs',
    'markdown_summary',
    'plot_curves',
    'series',
    'summary_row',
]

TIME_KEY = 'time'  # mmengine's LogProcessor: seconds an iteration took (mean over the logging window)


def load_runs(paths: Sequence[str]) -> List[List[dict]]:
    """The scalars.json records of each path (a work dir: its newest run; a run folder; the file itself).

    Raises:
        MissingFileError: a path with no scalars.json (no run started there, or a wrong folder).
    """
    found = []
    for path in paths:
        records = logs.read_scalars(path)
        if not records:
            raise MissingFileError(
                f'{path!r} holds no vis_data/scalars.json with records: give a work dir of tools/train.py '
                f'(work_dirs/<config>), one of its <timestamp> run folders, or the scalars.json itself'
            )
        found.append(records)
    return found


def _by_epoch(records: Sequence[dict]) -> bool:
    return any('epoch' in r for r in records)


def _is_train(record: dict) -> bool:
    return 'iter' in record or 'epoch' in record


def _iteration_of_epoch(records: Sequence[dict]) -> Dict[int, int]:
    """The last logged iteration of each epoch (where an epoch-based run's evaluation records sit)."""
    last: Dict[int, int] = {}
    for r in records:
        if 'epoch' in r and 'iter' in r:
            last[int(r['epoch'])] = max(last.get(int(r['epoch']), 0), int(r['iter']))
    return last


def series(records: Sequence[dict], key: str, x: str = 'iter') -> Tuple[List[float], List[float]]:
    """The values of ``key`` in ``records`` and where they were logged, in order.

    An evaluation record's ``step`` is the iteration only where the ``LoggerHook`` has
    ``log_metric_by_epoch=False``; by default (mmdet's runtime, also for iteration-based loops) it is
    ``runner.epoch``, which an ``IterBasedTrainLoop`` leaves at 0 (mmengine 0.10.7). An evaluation is placed at
    ``max(step, the iteration of the training record before it)``: the iteration where either is, and the
    end of the epoch it follows where ``step`` counts epochs.

    Args:
        records: one run's scalars.json records.
        key: a logged scalar (``loss``, ``lr``, ``coco/bbox_mAP``, ``mIoU``, ...).
        x: ``'iter'`` (iterations) or ``'epoch'`` (only runs that count epochs).

    Returns:
        (xs, ys). On the epoch axis a training record sits at ``epoch - 1 + its share of the epoch's
        iterations``, an evaluation at the epoch of the training record before it.
    """
    if x not in ('iter', 'epoch'):
        raise ConfigError(f"x={x!r}: plot against 'iter' or 'epoch'")
    by_epoch = _by_epoch(records)
    if x == 'epoch' and not by_epoch:
        raise ConfigError("this run logs by iteration (no 'epoch' in its scalars.json): plot it with --x iter")
    per_epoch = _iteration_of_epoch(records) if by_epoch else {}
    xs, ys = [], []
    last_iter, last_epoch = None, None
    for r in records:
        if _is_train(r):
            it = int(r.get('iter', r['step']))
            last_iter, last_epoch = it, r.get('epoch', last_epoch)
            if key not in r:
                continue
            if x == 'iter':
                xs.append(it)
            else:  # epoch e's iterations run from its predecessor's last to its own last
                e = int(r['epoch'])
                lo, hi = per_epoch.get(e - 1, 0), per_epoch.get(e, it)
                xs.append(e - 1 + (it - lo) / max(hi - lo, 1))
        elif key in r:
            step = int(r['step'])
            if x == 'iter':
                xs.append(step if last_iter is None else max(step, last_iter))
            else:
                xs.append(step if last_epoch is None else int(last_epoch))
        else:
            continue
        ys.append(float(r[key]))
    return xs, ys


def is_lower_better(key: str) -> bool:
    """Losses and times are best when lowest; metrics (AP, mIoU, accuracy) when highest."""
    name = key.split('/')[-1]
    return 'loss' in name or name in ('time', 'data_time', 'memory')


def best(records: Sequence[dict], key: str) -> Optional[Tuple[float, float]]:
    """(best value, its iteration) of ``key``, the first where it ties; None when the run never logged it."""
    xs, ys = series(records, key)
    if not ys:
        return None
    pick = min if is_lower_better(key) else max
    value = pick(ys)
    return value, xs[ys.index(value)]


def summary_row(records: Sequence[dict], keys: Sequence[str]) -> Dict[str, object]:
    """``{key: (best, iteration) or None, ..., 'time': mean seconds an iteration}`` of one run.

    The time is the mean of the ``time`` values of the training records (each mmengine's mean over its
    logging window), as mmdet's ``cal_train_time`` with outliers included; None without such records.
    """
    row: Dict[str, object] = {k: best(records, k) for k in keys}
    times = [float(r[TIME_KEY]) for r in records if _is_train(r) and TIME_KEY in r]
    row[TIME_KEY] = sum(times) / len(times) if times else None
    return row


def _check_keys(runs: Sequence[Sequence[dict]], keys: Sequence[str], labels: Sequence[str]) -> None:
    for key in keys:
        if not any(key in r for records in runs for r in records):
            logged = sorted({k for records in runs for r in records for k in r} - {'step', 'iter', 'epoch'})
            close = difflib.get_close_matches(key, logged, n=1)
            hint = f' Did you mean {close[0]!r}?' if close else ''
            raise ConfigError(f'key {key!r} is logged by none of the runs {list(labels)}; logged keys: {logged}.{hint}')


def markdown_summary(runs: Sequence[Sequence[dict]], labels: Sequence[str], keys: Sequence[str]) -> str:
    """One row a run: the best value of each key and its iteration, and the mean time per iteration."""
    _check_keys(runs, keys, labels)
    head = ['run'] + [f'best {k} (iter)' for k in keys] + ['s/iter']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for label, records in zip(labels, runs):
        row = summary_row(records, keys)
        cells = [label]
        for k in keys:
            found = row[k]
            cells.append('-' if found is None else f'{found[0]:.4g} ({found[1]:g})')
        cells.append('-' if row[TIME_KEY] is None else f'{row[TIME_KEY]:.3f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def default_labels(paths: Sequence[str]) -> List[str]:
    """A legend entry per path: the work dir's name (``work_dirs/cascade_convnext_demo`` -> that name)."""
    names = []
    for p in paths:
        p = osp.normpath(p)
        if osp.isfile(p):  # .../<work_dir>/<timestamp>/vis_data/scalars.json
            p = osp.dirname(osp.dirname(osp.dirname(p)))
        elif osp.basename(p).replace('_', '').isdigit():  # a <timestamp> run folder
            p = osp.dirname(p)
        names.append(osp.basename(p))
    return names


def plot_curves(
    runs: Sequence[Sequence[dict]],
    labels: Sequence[str],
    keys: Sequence[str],
    out: str,
    x: str = 'iter',
    title: Optional[str] = None,
) -> str:
    """One panel a key, one line a run (markers where a key is logged at most 50 times: evaluations); a PNG."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    _check_keys(runs, keys, labels)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.2), squeeze=False, dpi=90)
    for ax, key in zip(axes[0], keys):
        for label, records in zip(labels, runs):
            xs, ys = series(records, key, x)
            if xs:
                ax.plot(xs, ys, label=label, marker='o' if len(xs) <= 50 else None, markersize=3, linewidth=1)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel('iteration' if x == 'iter' else 'epoch')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
