"""The paper's roadmap as an experiment: train every step x seed with one recipe, then a table and a Figure 2.

Liu et al., "A ConvNet for the 2020s" (arXiv 2201.03545), Figure 2: one horizontal bar per step of the path from
ResNet-50 to ConvNeXt-T, with its ImageNet-1K top-1 and GFLOPs, the kernel sizes the path does not adopt drawn
apart. ``tools/roadmap.py`` does the same for any task and dataset a config describes:

* :func:`run_options`: the ``--cfg-options`` of one step: the step, and the widths of the neck or heads, which
  follow the step's stage widths (``resolve_step(step, regime).dims``), so a config never needs them by hand;
* :func:`run_state`, :func:`train_run`: each run is ``tools/train.py`` in its own process (its resume, atomic
  checkpoints and random-state restore), in ``<work_dir>/<step>_seed<seed>``; a finished run (final checkpoint
  and metric present) is read back, not trained again; an interrupted one is resumed (``--resume``);
* :func:`read_result`: the metric, the training images/s (the logged iteration times) and the wall time;
* :func:`backbone_complexity`: GFLOPs (multiply-accumulates of convs and linear layers at 224x224, the paper's
  convention: torch's ``FlopCounterMode`` count halved, on the meta device) and parameters of a step's backbone;
* :func:`markdown_table`, :func:`plot_roadmap`: the table (metric per seed, mean) and the figure, with the
  paper's ImageNet-1K results (:data:`~convnext_dense.models.roadmap_steps.PAPER_RESULTS`) beside them.

Example:
    >>> results = [dict(step='resnet', seed=0, metric=50.0, images_per_s=100.0),
    ...            dict(step='resnet', seed=1, metric=52.0, images_per_s=110.0)]
    >>> print(markdown_table(results, 'cls', [0, 1], {'resnet': (4.087, 23.51)}).splitlines()[2])
    | `resnet` | 4.09 | 23.51 | 105 | 50.00 | 52.00 | **51.00** | 78.82 |
"""

import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import ConfigError, TrainingError
from ..models.roadmap_steps import PAPER_RESULTS, PARENTS, STEPS, resolve_step
from .logs import last_metrics, read_scalars, runs, wall_time_s

__all__ = [
    'ADOPTED',
    'TASKS',
    'RoadmapTask',
    'backbone_complexity',
    'final_checkpoint',
    'markdown_table',
    'plot_roadmap',
    'read_result',
    'run_options',
    'run_roadmap',
    'run_state',
    'train_run',
]


@dataclass(frozen=True)
class RoadmapTask:
    """A task of the roadmap: its default config, the metric it is judged by and how that metric is printed."""

    config: str
    metric: str  # the key in the run's scalars.json
    title: str  # column title
    scale: float  # printed value = logged value x scale


TASKS: Dict[str, RoadmapTask] = {
    'cls': RoadmapTask('configs/roadmap/demo/roadmap_cls_demo.py', 'accuracy/top1', 'top-1 (%)', 1.0),
    'det': RoadmapTask('configs/roadmap/demo/roadmap_mask_rcnn_demo.py', 'coco/bbox_mAP', 'box AP', 100.0),
    'seg': RoadmapTask('configs/roadmap/demo/roadmap_upernet_demo.py', 'mIoU', 'mIoU', 1.0),
}

# The kernel size the path continues from (Section 2.5); its siblings are the sizes not adopted.
ADOPTED = PARENTS['gelu']
SIBLINGS = tuple(s for s in STEPS if PARENTS[s] == PARENTS[ADOPTED] and s != ADOPTED)
# Figure 2's groups of steps (Sections 2.2-2.6).
GROUPS = {
    'resnet': 'ResNet',
    'stage_ratio': 'macro design',
    'patchify_stem': 'macro design',
    'depthwise_conv': 'ResNeXt',
    'wider': 'ResNeXt',
    'inverted_bottleneck': 'inverted bottleneck',
    'move_up_dwconv': 'large kernel',
    'kernel_5': 'large kernel',
    'kernel_7': 'large kernel',
    'kernel_9': 'large kernel',
    'kernel_11': 'large kernel',
}
COLOURS = {
    'ResNet': 'tab:grey',
    'macro design': 'tab:blue',
    'ResNeXt': 'tab:orange',
    'inverted bottleneck': 'tab:green',
    'large kernel': 'tab:purple',
    'micro design': 'tab:red',
}


def run_options(model: dict, step: str) -> Dict[str, object]:
    """The ``--cfg-options`` that make ``model`` (a config's model dict) train ``step``.

    The backbone's step, and the input widths of what reads its maps: an FPN neck's ``in_channels``, a decode
    head's, an auxiliary head's (its ``in_index`` map); a classifier's head reads the width from the backbone.

    Example:
        >>> model = dict(backbone=dict(step='gelu', regime='resnet50', out_indices=(0, 1, 2, 3)),
        ...              decode_head=dict(in_channels=[96, 192, 384, 768]),
        ...              auxiliary_head=dict(in_channels=384, in_index=2))
        >>> run_options(model, 'resnet')
        {'model.backbone.step': 'resnet', 'model.decode_head.in_channels': [256, 512, 1024, 2048], \
'model.auxiliary_head.in_channels': 1024}
    """
    backbone = model.get('backbone') or {}
    if backbone.get('type', 'ModernizedResNet') != 'ModernizedResNet':
        raise ConfigError(
            f"the config's model.backbone is {backbone.get('type')!r}; the roadmap needs type='ModernizedResNet' "
            f'(configs/roadmap/)'
        )
    dims = resolve_step(step, backbone.get('regime', 'resnet50')).dims
    maps = [dims[i] for i in backbone.get('out_indices', (0, 1, 2, 3))]
    options: Dict[str, object] = {'model.backbone.step': step}
    neck = model.get('neck')
    if isinstance(neck, dict) and isinstance(neck.get('in_channels'), (list, tuple)):
        options['model.neck.in_channels'] = maps
    head = model.get('decode_head')
    if isinstance(head, dict) and isinstance(head.get('in_channels'), (list, tuple)):
        options['model.decode_head.in_channels'] = maps
    aux = model.get('auxiliary_head')
    if isinstance(aux, dict) and isinstance(aux.get('in_channels'), int):
        options['model.auxiliary_head.in_channels'] = maps[aux.get('in_index', -1)]
    return options


def format_options(options: Dict[str, object]) -> List[str]:
    """``key=value`` strings for ``tools/train.py --cfg-options`` (lists without spaces, as DictAction reads them)."""
    out = []
    for key, value in options.items():
        text = '[' + ','.join(str(v) for v in value) + ']' if isinstance(value, (list, tuple)) else str(value)
        out.append(f'{key}={text}')
    return out


def final_checkpoint(train_cfg: dict) -> str:
    """The file name of a run's last checkpoint: ``iter_<max_iters>.pth`` or ``epoch_<max_epochs>.pth``."""
    if 'max_iters' in train_cfg:
        return f"iter_{train_cfg['max_iters']}.pth"
    if 'max_epochs' in train_cfg:
        return f"epoch_{train_cfg['max_epochs']}.pth"
    raise ConfigError(f'train_cfg {dict(train_cfg)} has neither max_iters nor max_epochs')


def run_state(work_dir: str, final: str, metric: str) -> str:
    """``'finished'`` (final checkpoint and ``metric`` logged), ``'interrupted'`` (a run began) or ``'new'``.

    Raises:
        TrainingError: the final checkpoint is there but its evaluation is not (killed while evaluating; a
            resumed run would not evaluate again), with the fix.
    """
    done = osp.isfile(osp.join(work_dir, final))
    if done and last_metrics(work_dir, [metric]):
        return 'finished'
    if done:
        raise TrainingError(
            f'{work_dir}: {final} is there but no {metric} was logged (stopped while evaluating?); '
            f'delete {work_dir} to train it again'
        )
    began = osp.isfile(osp.join(work_dir, 'last_checkpoint')) or bool(runs(work_dir))
    return 'interrupted' if began else 'new'


def train_run(config: str, work_dir: str, seed: int, options: Sequence[str], resume: bool, repo: str) -> float:
    """``<repo>/tools/train.py`` in a fresh process, in the current folder as a user's own call would be (the
    configs' relative data paths), output in ``<work_dir>/stdout.log``; returns its wall time in s.

    Raises:
        TrainingError: the run failed (exit code and the log to read).
    """
    os.makedirs(work_dir, exist_ok=True)
    cmd = [sys.executable, osp.join(repo, 'tools', 'train.py'), config, '--work-dir', work_dir, '--seed', str(seed)]
    cmd += ['--resume'] if resume else []
    cmd += ['--cfg-options', *options] if options else []
    start = time.time()
    with open(osp.join(work_dir, 'stdout.log'), 'a') as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    if code != 0:
        raise TrainingError(f'{" ".join(cmd)} failed (exit {code}); see {osp.join(work_dir, "stdout.log")}')
    return time.time() - start


def read_result(work_dir: str, metric: str, batch_size: int) -> dict:
    """A finished run's ``metric``, training images/s (``batch_size`` / the mean logged iteration time) and the
    wall time of its newest run folder (a resumed run: its last part)."""
    value = last_metrics(work_dir, [metric])[metric]
    times = [r['time'] for r in read_scalars(work_dir) if 'time' in r and metric not in r]
    newest = runs(work_dir)[-1]
    return dict(
        metric=value,
        images_per_s=batch_size * len(times) / sum(times) if times else None,
        seconds=wall_time_s(newest),
    )


def backbone_complexity(backbone: dict, step: str, size: int = 224) -> Tuple[float, float]:
    """(GFLOPs, parameters in M) of ``backbone`` (a config's ModernizedResNet dict) at ``step``, one image
    ``size`` x ``size``: multiply-accumulates of convs and linear layers (docs/roadmap.md's count)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..models import ModernizedResNet

    kwargs = {k: v for k, v in backbone.items() if k not in ('type', 'init_cfg', 'step')}
    with torch.device('meta'):
        model = ModernizedResNet(step=step, **kwargs)
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, size, size, device='meta'))
    return counter.get_total_flops() / 2e9, sum(p.numel() for p in model.parameters()) / 1e6


def _fmt(value: Optional[float], digits: int = 2) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def _mean(values: Sequence[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def _summary(results: Sequence[dict], task: str) -> Dict[str, dict]:
    """Per step (in :data:`STEPS` order): ``{seed: metric printed}``, the mean, and the mean images/s."""
    scale = TASKS[task].scale
    out: Dict[str, dict] = {}
    for step in STEPS:
        mine = [r for r in results if r['step'] == step]
        if not mine:
            continue
        per_seed = {r['seed']: r['metric'] * scale for r in mine}
        speeds = [r['images_per_s'] for r in mine if r.get('images_per_s')]
        out[step] = dict(per_seed=per_seed, mean=_mean(list(per_seed.values())), images_per_s=_mean(speeds))
    return out


def markdown_table(
    results: Sequence[dict], task: str, seeds: Sequence[int], complexity: Dict[str, Tuple[float, float]]
) -> str:
    """One row per step: GFLOPs, params, training images/s, the metric of each seed, their mean (bold) and the
    paper's ImageNet-1K top-1 (Table 10). Not-adopted kernel sizes say so.

    Args:
        results: dicts with ``step``, ``seed``, ``metric`` (as logged) and ``images_per_s``.
        task: a key of :data:`TASKS` (the metric's title and scale).
        seeds: the seed columns, in order (a missing run prints ``-``).
        complexity: ``{step: (GFLOPs, params in M)}`` (:func:`backbone_complexity`).
    """
    title = TASKS[task].title
    lines = [
        '| step | GFLOPs | params (M) | train images/s | '
        + ' | '.join(f'{title} seed {s}' for s in seeds)
        + f' | {title} mean | paper IN-1K top-1 |',
        '|---' * (6 + len(seeds)) + '|',
    ]
    for step, row in _summary(results, task).items():
        name = f'`{step}`' + (' (not adopted)' if step in SIBLINGS else '')
        flops, params = complexity.get(step, (None, None))
        lines.append(
            f'| {name} | {_fmt(flops)} | {_fmt(params)} | {_fmt(row["images_per_s"], 0)} | '
            + ' | '.join(_fmt(row['per_seed'].get(s)) for s in seeds)
            + f' | **{_fmt(row["mean"])}** | {_fmt(PAPER_RESULTS["resnet50"][step][0])} |'
        )
    return '\n'.join(lines) + '\n'


def plot_roadmap(results: Sequence[dict], task: str, path: str, title: str = '') -> None:
    """Figure 2's layout: a horizontal bar per step (top: ``resnet``), ours (mean, each seed a dot) on the left,
    the paper's ImageNet-1K top-1 with its GFLOPs on the right; not-adopted kernel sizes hatched and grey."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    summary = _summary(results, task)
    steps = list(summary)
    if not steps:
        raise TrainingError('no finished runs to plot')
    fig, (ours, paper) = plt.subplots(1, 2, figsize=(11, 0.45 * len(steps) + 1.6), sharey=True)
    y = list(range(len(steps)))[::-1]
    for ax, values in (
        (ours, [summary[s]['mean'] for s in steps]),
        (paper, [PAPER_RESULTS['resnet50'][s][0] for s in steps]),
    ):
        for yi, step, value in zip(y, steps, values):
            sibling = step in SIBLINGS
            ax.barh(
                yi,
                value,
                color='lightgrey' if sibling else COLOURS[GROUPS.get(step, 'micro design')],
                hatch='//' if sibling else None,
                edgecolor='grey',
                height=0.7,
            )
        low, high = min(values), max(values)
        ax.set_xlim(max(0.0, low - 0.6 * (high - low) - 0.5), high + 0.35 * (high - low) + 0.5)
        ax.grid(axis='x', alpha=0.3)
    for yi, step in zip(y, steps):
        seeds = list(summary[step]['per_seed'].values())
        ours.plot(seeds, [yi] * len(seeds), 'k.', markersize=5)
        ours.text(summary[step]['mean'], yi, f' {summary[step]["mean"]:.2f}', va='center', fontsize=8)
        top1, _, gflops = PAPER_RESULTS['resnet50'][step]
        paper.text(top1, yi, f' {top1:.2f} ({gflops:.2f}G)', va='center', fontsize=8)
    ours.set_yticks(y, [s + (' (not adopted)' if s in SIBLINGS else '') for s in steps], fontsize=8)
    ours.set_xlabel(f'{TASKS[task].title}: mean of seeds (dots: each seed)')
    ours.set_title(title or f'this run ({task})', fontsize=10)
    paper.set_xlabel('ImageNet-1K top-1 (%), paper Table 10')
    paper.set_title('paper (ResNet-50 -> ConvNeXt-T)', fontsize=10)
    from matplotlib.patches import Patch

    groups = list(dict.fromkeys(GROUPS.get(s, 'micro design') for s in steps if s not in SIBLINGS))
    handles = [Patch(color=COLOURS[g], label=g) for g in groups]
    handles += (
        [Patch(facecolor='lightgrey', hatch='//', edgecolor='grey', label='not adopted')]
        if set(steps) & set(SIBLINGS)
        else []
    )
    fig.legend(handles=handles, loc='lower center', ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.6 / (0.45 * len(steps) + 1.6), 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_results(results: Sequence[dict], path: str) -> None:
    """The runs' results as JSON (rewritten after every run, so a stopped roadmap keeps what it measured)."""
    with open(path, 'w') as f:
        json.dump(list(results), f, indent=1)


def run_roadmap(
    task: str,
    steps: Sequence[str],
    seeds: Sequence[int],
    config: str,
    work_dir: str,
    cfg_options: Sequence[str] = (),
    repo: str = '.',
    log=print,
) -> List[dict]:
    """Train (or reuse) every step x seed, then write ``<work_dir>/roadmap.{md,json,png}``; returns the results.

    Seeds are the outer loop, so a stopped roadmap has every step of the first seed before any second seed. The
    table and the JSON are rewritten after every run.

    Args:
        task: a key of :data:`TASKS`.
        steps: steps of :data:`STEPS` (any order; trained and shown in the roadmap's order).
        seeds: the seeds, each step trained once per seed.
        config: the recipe (any config whose backbone is a ``ModernizedResNet``).
        work_dir: runs go to ``<work_dir>/<step>_seed<seed>``.
        cfg_options: ``key=value`` strings given to every run (after the step's own).
        repo: the repository whose ``tools/train.py`` trains each run.
        log: where progress lines go.
    """
    from ..apis import load_config
    from ..apis.preflight import preflight

    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ConfigError(f'--steps: {unknown} are not roadmap steps; choose from {list(STEPS)}')
    steps = [s for s in STEPS if s in steps]
    user = _parse_options(cfg_options)
    cfg = load_config(config, user)
    spec = TASKS[task]
    recipe = hashlib.sha1(cfg.pretty_text.encode()).hexdigest()  # an edited config is another experiment
    complexity = {s: backbone_complexity(cfg.model.backbone, s) for s in steps}
    final, batch = final_checkpoint(cfg.train_cfg), cfg.train_dataloader.batch_size
    os.makedirs(work_dir, exist_ok=True)
    results, plan = [], [(seed, step) for seed in seeds for step in steps]
    began = time.time()
    for number, (seed, step) in enumerate(plan, 1):
        options = {**run_options(cfg.model, step), **user}
        run_dir = osp.join(work_dir, f'{step}_seed{seed}')
        _check_same_run(run_dir, config, options, recipe)
        state = run_state(run_dir, final, spec.metric)
        where = f'[{number}/{len(plan)}] {step} seed {seed}'
        if state == 'finished':
            log(f'{where}: finished before, reused ({run_dir})')
        else:
            if number == 1 or state == 'new':
                preflight(load_config(config, options), config, mode='train')  # data, classes: before training
            log(f'{where}: {"resuming" if state == "interrupted" else "training"} (log: {run_dir}/stdout.log)')
            seconds = train_run(config, run_dir, seed, format_options(options), state == 'interrupted', repo)
            elapsed = time.time() - began
            log(f'{where}: done in {seconds:.0f} s; {elapsed / 60:.1f} min so far, {len(plan) - number} runs left')
        result = dict(step=step, seed=seed, work_dir=run_dir, **read_result(run_dir, spec.metric, batch))
        log(f'{where}: {spec.title} {result["metric"] * spec.scale:.2f}')
        results.append(result)
        save_results(results, osp.join(work_dir, 'roadmap.json'))
        _write_table(results, task, seeds, complexity, work_dir, config, cfg_options)
    plot_roadmap(results, task, osp.join(work_dir, 'roadmap.png'), title=f'{osp.basename(config)}, seeds {list(seeds)}')
    log(f'written: {work_dir}/roadmap.md, roadmap.json, roadmap.png')
    return results


def _write_table(results, task, seeds, complexity, work_dir, config, cfg_options):
    text = (
        f'Config `{config}`' + (f' with `{" ".join(cfg_options)}`' if cfg_options else '') + '; GFLOPs and params: '
        'the backbone at 224x224 (multiply-accumulates of convs and linear layers).\n\n'
        + markdown_table(results, task, seeds, complexity)
    )
    with open(osp.join(work_dir, 'roadmap.md'), 'w') as f:
        f.write(text)


def _parse_options(cfg_options: Sequence[str]) -> dict:
    """``key=value`` strings as mmengine's DictAction reads them from a command line."""
    import argparse

    from mmengine.config import DictAction

    namespace = argparse.Namespace(options=None)
    if cfg_options:
        DictAction(option_strings=['--cfg-options'], dest='options')(None, namespace, list(cfg_options))
    return namespace.options or {}


def _check_same_run(run_dir: str, config: str, options: dict, recipe: str) -> None:
    """A run dir belongs to one config (its path and the hash of its text) and option set (``roadmap_run.json``):
    reusing it for another is an error."""
    record = osp.join(run_dir, 'roadmap_run.json')
    mine = dict(config=osp.normpath(config), recipe=recipe, options={k: str(v) for k, v in options.items()})
    if osp.isfile(record):
        with open(record) as f:
            before = json.load(f)
        if before != mine:
            raise ConfigError(
                f'{run_dir} holds a run of {before["config"]} (text hash {before.get("recipe")}) with options '
                f'{before["options"]}, not {mine["config"]} ({recipe}) with {mine["options"]}: give another '
                f'--work-dir, or delete {run_dir}'
            )
        return
    os.makedirs(run_dir, exist_ok=True)
    with open(record, 'w') as f:
        json.dump(mine, f, indent=1)
