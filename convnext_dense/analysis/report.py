"""The benchmark's results as markdown tables, JSON and plots.

* :func:`markdown`, :func:`plot_bars`, :func:`save`: a :func:`~convnext_dense.analysis.benchmark.run`
  of backbones or whole models: conditions, command, one row per subject; ``PREFIX.md``,
  ``PREFIX.json``, ``PREFIX.png``;
* :func:`plot_scaling`, :func:`save_scaling`: images/s and peak memory against input and batch size;
* :func:`trained_rows`, :func:`trained_markdown`: trained models, with the accuracy and train time
  of their runs (read from the work dirs' logs by :mod:`convnext_dense.analysis.logs`) beside the
  speed and memory measured here.
"""

import json
from typing import Dict, List, Optional, Sequence

import torch

from . import logs
from .benchmark import device_name

__all__ = [
    'TRAINED_METRICS',
    'markdown',
    'markdown_table',
    'plot_bars',
    'plot_scaling',
    'save',
    'save_scaling',
    'trained_markdown',
    'trained_rows',
]

# Metrics read from a trained model's scalars.json per default scope: (key in the log, column title, scale).
TRAINED_METRICS = {
    'mmdet': [
        ('coco/bbox_mAP', 'box AP', 100.0),
        ('coco/segm_mAP', 'mask AP', 100.0),
        ('coco/bbox_mAP_50', 'box AP50', 100.0),
    ],
    'mmseg': [('mIoU', 'mIoU', 1.0), ('aAcc', 'aAcc', 1.0)],
}


def _fmt(value, digits=2) -> str:
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'NO'
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    return str(value)


def _rate(value) -> str:
    """images/s: two decimals, or three significant digits below 1 (whole models on a CPU)."""
    if value is None:
        return '-'
    return f'{value:.2f}' if value >= 1 else f'{value:.3g}'


def _conditions(meta: dict) -> str:
    return (
        f"{meta['device']}, {meta['threads']} threads, torch {meta['torch']}, {meta['date']}; median of "
        f"{meta['rounds']} interleaved rounds after {meta['warmup']} warm-up calls (spread min..max in the JSON); "
        f"load average (1/5/15 min) before {meta['load_before']}, after {meta['load_after']}."
    )


def markdown(result: dict, command: str = '') -> str:
    """A backbone / whole-model result as a markdown table, with the conditions and the command above it."""
    m = result['meta']
    rows = result['rows']
    lines = [_conditions(m) + f" Ratios relative to `{m['baseline']}`.", '']
    if command:
        lines += [f'Command: `{command}`', '']
    modes = [f"{r['name'].split(' |')[0]}: {r['inference_mode']}" for r in rows if r.get('inference_mode')]
    if modes:
        what = (
            [
                'inference is `model.test_step` (preprocessing, forward, post-processing) at the input size, '
                'as ' + '; '.join(modes)
            ]
            if any('infer_img_s' in r for r in rows)
            else []
        )
        if any('train_img_s' in r for r in rows):
            what.append('the training step is `model.train_step` (losses, backward, SGD) at the input size')
        lines += ['Whole models, random weights, synthetic images and labels: ' + '; '.join(what) + '.', '']
    has = {k: any(k in r for r in rows) for k in ('infer_img_s', 'latency_ms', 'train_img_s')}
    head = ['model', 'dtype', 'memory', 'compile', 'input', 'params (M)', 'GFLOPs']
    if has['infer_img_s']:
        head += ['inference img/s', 'x baseline']
    if has['latency_ms']:
        head += ['latency b=1 (ms)']
    if has['train_img_s']:
        head += ['train step img/s', 'x baseline']
    head += ['peak memory (MiB)', 'max rel. diff', 'equal']
    lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        cells = [
            r['name'],
            f"{r['batch']}x3x{r['size'][0]}x{r['size'][1]}",
            _fmt(r['params_m'], 1),
            _fmt(r['gflops'], 1),
        ]
        if has['infer_img_s']:
            cells += [_rate(r.get('infer_img_s')), _fmt(r.get('infer_ratio'))]
        if has['latency_ms']:
            cells += [_fmt(r.get('latency_ms'), 1)]
        if has['train_img_s']:
            cells += [_rate(r.get('train_img_s')), _fmt(r.get('train_ratio'))]
        err = r.get('max_rel_err')
        cells += [_fmt(r.get('peak_mem_mib'), 0), '-' if err is None else f'{err:.1e}', _fmt(r.get('equal'))]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


def plot_bars(result: dict, path: str):
    """Bar chart of inference and training images/s per subject."""
    plt = _pyplot()
    rows = result['rows']
    panels = [
        (k, t) for k, t in (('infer_img_s', 'inference'), ('train_img_s', 'training step')) if any(k in r for r in rows)
    ] or [('infer_img_s', 'inference')]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 0.45 * len(rows) + 1.5), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        values = [r.get(key) or 0.0 for r in rows]
        ax.barh(range(len(rows)), values, color='tab:blue')
        ax.set_yticks(range(len(rows)), [r['name'] for r in rows], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel('images/s')
        ax.set_title(f"{title}, {rows[0]['batch']}x3x{rows[0]['size'][0]}x{rows[0]['size'][1]}")
    fig.suptitle(result['meta']['device'], fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save(result: dict, prefix: str, table: str):
    """``PREFIX.md`` (``table``), ``PREFIX.json`` (``result``) and ``PREFIX.png`` (:func:`plot_bars`)."""
    with open(prefix + '.md', 'w') as f:
        f.write(table + '\n')
    with open(prefix + '.json', 'w') as f:
        json.dump(result, f, indent=1)
    plot_bars(result, prefix + '.png')


def plot_scaling(result: dict, prefix: str) -> List[str]:
    """``<prefix>_size.png`` and ``<prefix>_batch.png``: images/s and peak memory per model."""
    from matplotlib.ticker import ScalarFormatter

    plt = _pyplot()
    paths = []
    for axis, label in (('size', 'input size (square, batch 1)'), ('batch', 'batch size (224x224)')):
        points = result[axis]
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
        for model in dict.fromkeys(p['model'] for p in points):
            mine = [p for p in points if p['model'] == model]
            a.plot([p['point'] for p in mine], [p['infer_img_s'] for p in mine], 'o-', label=model)
            if any(p['peak_mem_mib'] is not None for p in mine):
                b.plot([p['point'] for p in mine], [p['peak_mem_mib'] or 0 for p in mine], 'o-', label=model)
        a.set_xlabel(label), a.set_ylabel('inference images/s (log scale)'), a.set_yscale('log'), a.legend()
        a.yaxis.set_major_formatter(ScalarFormatter()), a.yaxis.set_minor_formatter(ScalarFormatter())
        a.tick_params(axis='y', which='minor', labelsize=7)
        a.set_xticks(sorted({p['point'] for p in points}))
        b.set_xlabel(label), b.set_ylabel('peak memory (MiB)'), b.legend()
        b.set_xticks(sorted({p['point'] for p in points}))
        a.set_title('inference, fp32'), b.set_title('peak memory: one inference + one training step')
        meta = result['meta']
        device = device_name(torch.device(meta['device'])) if meta['device'] == 'cpu' else meta['device']
        fig.suptitle(
            f"{device}, {meta['threads']} threads; load average before {meta['load_before']}, "
            f"after {meta.get('load_after', '?')}",
            fontsize=9,
        )
        fig.tight_layout()
        path = f'{prefix}_{axis}.png'
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def save_scaling(result: dict, prefix: str) -> List[str]:
    """``PREFIX.json`` and the two plots of :func:`plot_scaling`; returns the plots' paths."""
    with open(prefix + '.json', 'w') as f:
        json.dump(result, f, indent=1)
    return plot_scaling(result, prefix)


def markdown_table(rows: Sequence[Dict[str, object]]) -> str:
    """Rows of any keys as one markdown table: the union of their keys as columns, floats with 2 decimals.

    Example:
        >>> print(markdown_table([dict(model='a', fps=1.234), dict(model='b', AP=50.0)]))
        | model | fps | AP |
        |---|---|---|
        | a | 1.23 |  |
        | b |  | 50.00 |
    """
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
    for row in rows:
        cells = []
        for key in columns:
            value = row.get(key, '')
            cells.append(f'{value:.2f}' if isinstance(value, float) else str(value))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def trained_rows(result: dict, names: Sequence[str], work_dirs: Sequence[Optional[str]]) -> List[dict]:
    """One table row per trained model: what its newest run logged, then what was measured here.

    Args:
        result: a :func:`~convnext_dense.analysis.benchmark.run` of ``trained:`` subjects.
        names: the row titles.
        work_dirs: where each model was trained (None: no run to read).

    Returns:
        Rows with the last evaluation (box / mask AP / AP50 for mmdet, mIoU / aAcc for mmseg), the run's
        wall time (first to last log line, validation included), params, images/s (timed images over
        their total time) and the per-image median with its min..max, timed images, image size, peak
        RSS of the memory subprocess, threads, checkpoint and the run folder read.
    """
    meta, rows = result['meta'], []
    for measured, name, work_dir in zip(result['rows'], names, work_dirs):
        run = logs.newest_run(work_dir) if work_dir else None
        row: Dict[str, object] = {'model': name}
        if run:
            metrics = TRAINED_METRICS.get(measured['scope'], [])
            logged = logs.last_metrics(run, [key for key, _, _ in metrics])
            row.update({title: logged[key] * scale for key, title, scale in metrics if key in logged})
            seconds = logs.wall_time_s(run)
            if seconds is not None:
                row['train wall time (s)'] = seconds
        low, high = measured['infer_spread_img_s']
        row.update(
            {
                'params (M)': measured['params_m'],
                'images/s': measured['infer_mean_img_s'],
                'median (min..max) images/s': f"{measured['infer_img_s']:.2f} ({low:.2f}..{high:.2f})",
                'timed images': measured['infer_calls'],
                'image size (HxW)': 'x'.join(str(s) for s in measured['size']),
            }
        )
        if measured['process_peak_mib'] is not None:
            row['peak RSS (MB)'] = measured['process_peak_mib']
        row['threads'] = meta['threads']
        row['checkpoint'] = measured['checkpoint']
        if measured['peak_mem_mib'] is not None and measured['device'].startswith('cuda'):
            row['CUDA max allocated (MB)'] = measured['peak_mem_mib']
        row['run'] = run or 'no run found'
        rows.append(row)
    return rows


def trained_markdown(result: dict, rows: Sequence[dict], command: str = '') -> str:
    """The trained-model table (:func:`trained_rows`) with the conditions and the command above it."""
    m = result['meta']
    lines = [
        f"{m['device']}, {m['threads']} threads, torch {m['torch']}, {m['date']}; each of {m['rounds']} "
        f"interleaved rounds runs `model.test_step` of every model on its next test image (batch 1, decoded "
        f"beforehand), after {m['warmup']} warm-up images; load average (1/5/15 min) before {m['load_before']}, "
        f"after {m['load_after']}. Peak RSS: the whole process of a fresh subprocess that loads the model "
        f'and the images and infers them all.',
        '',
    ]
    if command:
        lines += [f'Command: `{command}`', '']
    return '\n'.join(lines + [markdown_table(rows)])
