"""What an mmengine run leaves in its work dir, read back: runs, scalars, last metrics, wall time, checkpoint.

mmengine's ``Runner`` writes each run (training, or a test) into ``<work_dir>/<timestamp>/``
(``%Y%m%d_%H%M%S``): the text log ``<timestamp>.log``, whose lines start with ``%Y/%m/%d %H:%M:%S``,
and ``vis_data/scalars.json``, one JSON object a line: the logged losses and learning rates, and each
evaluation's metrics (``coco/bbox_mAP``, ``mIoU``, ``accuracy/top1``, ...), each with its ``step``
(the iteration, or the epoch where the run logs by epoch). Its ``CheckpointHook`` writes the path of
the newest checkpoint into ``<work_dir>/last_checkpoint``.

Example:
    >>> import json, os, tempfile
    >>> run = os.path.join(tempfile.mkdtemp(), '20260101_120000')
    >>> os.makedirs(os.path.join(run, 'vis_data'))
    >>> with open(os.path.join(run, '20260101_120000.log'), 'w') as f:
    ...     _ = f.write('2026/01/01 12:00:00 - INFO - start\\n2026/01/01 12:10:30 - INFO - end\\n')
    >>> with open(os.path.join(run, 'vis_data', 'scalars.json'), 'w') as f:
    ...     _ = f.write(json.dumps(dict(loss=1.0, step=50)) + '\\n' + json.dumps(dict(mIoU=61.5, step=100)) + '\\n')
    >>> work_dir = os.path.dirname(run)
    >>> newest_run(work_dir) == run, last_metrics(work_dir, ['mIoU']), wall_time_s(run)
    (True, {'mIoU': 61.5}, 630.0)
    >>> import shutil; shutil.rmtree(work_dir)
"""

import glob
import json
import os
import os.path as osp
import re
from datetime import datetime
from typing import Dict, List, Optional, Sequence

from ..errors import MissingFileError

__all__ = ['last_metrics', 'latest_checkpoint', 'metric_records', 'newest_run', 'read_scalars', 'runs', 'wall_time_s']

_RUN_DIR = re.compile(r'^\d{8}_\d{6}$')
_LOG_TIME = re.compile(r'^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})')


def runs(work_dir: str) -> List[str]:
    """The run folders ``<work_dir>/<timestamp>/`` that have a log, oldest first ([] if none)."""
    if not osp.isdir(work_dir):
        return []
    found = [osp.join(work_dir, d) for d in os.listdir(work_dir) if _RUN_DIR.match(d)]
    return sorted(d for d in found if glob.glob(osp.join(d, '*.log')))


def newest_run(work_dir: str) -> Optional[str]:
    """The newest run folder of ``work_dir`` that has a log, or None."""
    found = runs(work_dir)
    return found[-1] if found else None


def _scalars_file(path: str) -> Optional[str]:
    """``path`` itself (a scalars.json), its ``vis_data/scalars.json`` (a run), or its newest run's (a work dir)."""
    if osp.isfile(path):
        return path
    own = osp.join(path, 'vis_data', 'scalars.json')
    if osp.isfile(own):
        return own
    run = newest_run(path)
    return osp.join(run, 'vis_data', 'scalars.json') if run else None


def read_scalars(path: str) -> List[dict]:
    """Every record of a run's ``vis_data/scalars.json``, in order.

    Args:
        path: the scalars.json file, a run folder, or a work dir (its newest run).

    Returns:
        The records (dicts with ``step``); [] when there is no such file.
    """
    found = _scalars_file(path)
    if found is None or not osp.isfile(found):
        return []
    with open(found) as f:
        return [json.loads(line) for line in f if line.strip()]


def metric_records(path: str, keys: Sequence[str]) -> List[dict]:
    """The records of :func:`read_scalars` that hold any of ``keys`` (the evaluations), in order."""
    return [r for r in read_scalars(path) if any(k in r for k in keys)]


def last_metrics(path: str, keys: Sequence[str]) -> Dict[str, float]:
    """The ``keys`` of the last record that holds any of them (the last evaluation); {} if none does."""
    records = metric_records(path, keys)
    return {k: float(records[-1][k]) for k in keys if k in records[-1]} if records else {}


def wall_time_s(run: str) -> Optional[float]:
    """Seconds from the first to the last time-stamped line of ``<run>/<timestamp>.log`` (None: no such log)."""
    log_file = osp.join(run, osp.basename(osp.normpath(run)) + '.log')
    if not osp.isfile(log_file):
        return None
    stamps = []
    with open(log_file) as f:
        for line in f:
            match = _LOG_TIME.match(line)
            if match:
                stamps.append(match.group(1))
    if len(stamps) < 2:
        return None
    first, last = (datetime.strptime(s, '%Y/%m/%d %H:%M:%S') for s in (stamps[0], stamps[-1]))
    return (last - first).total_seconds()


def latest_checkpoint(work_dir: str) -> str:
    """The checkpoint ``<work_dir>/last_checkpoint`` points to (mmengine's ``find_latest_checkpoint``).

    Raises:
        MissingFileError: no pointer (nothing saved yet), or the file it names is gone.
    """
    from mmengine.runner import find_latest_checkpoint

    # mmengine's finder returns None or a stale path without a word: the error here names the fix.
    path = find_latest_checkpoint(work_dir) if osp.isdir(work_dir) else None
    if not path:
        raise MissingFileError(
            f'{work_dir!r} has no last_checkpoint (written by the CheckpointHook when a run saves): '
            f'train first, or give the .pth'
        )
    if not osp.isfile(path):
        raise MissingFileError(f'{work_dir}/last_checkpoint points to {path!r}, which does not exist')
    return path
