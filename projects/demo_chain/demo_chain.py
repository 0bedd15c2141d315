"""Pretrain -> detect -> segment on the CPU, from the pretrained checkpoint and from random init, side by side.

1. pretrains the small ConvNeXt of ``configs/classification/demo/convnext_demo.py`` on the synthetic
   image folder;
2. trains the detection demo (``configs/detection/demo/cascade_convnext_demo_pretrained.py``) and the
   segmentation demo (``configs/segmentation/demo/upernet_convnext_demo_pretrained.py``) twice each per
   seed: the backbone from that checkpoint, and from random init;
3. writes ``results.md`` (one table: top-1, box/mask AP, mIoU, wall time of every run, and the mean
   over seeds), ``results.json`` and ``curves.png`` (box AP and mIoU against iteration, both starts)
   into ``--out-dir``. The configs each run used are saved next to its logs (``<run>/config.py``, and
   ``<run>/chain_config.py`` as the chain wrote it).

An experiment, not a tool: it runs on the package's public functions (the run-log reader
:mod:`convnext_dense.analysis.logs`, mmengine's ``find_latest_checkpoint`` through it) and the
repository's ``tools/train.py``; ``projects/demo_chain/README.md`` says how to run it. Every run is
``tools/train.py`` in its own process. The two starts of a task are one ablation: the same
config (the ``*_pretrained.py`` demos, with their fine-tuning recipe: layer-wise lr decay over the
backbone), data, schedule and seed; the random start only sets ``model.backbone.init_cfg=None``. Both
downstream configs use the classifier's backbone (1-1-3-1 blocks, widths 32..256), so that the
checkpoint fits.

Budgets (``--budget``):

* ``small``: a few iterations of each on tiny generated sets (in ``OUT/data``): proves the chain
  works end to end in a few minutes; its numbers mean nothing.
* ``short``: the demo data and a short downstream schedule (detection 200, segmentation 400
  iterations): the setting where a pretrained start should show most.
* ``full``: the demos' own schedules (pretraining 24 epochs, detection 700, segmentation 1500
  iterations).

``--low-data N`` trains detection and segmentation on ``N`` generated training images instead of
the demo sets' 600 / 400 (same validation sets). ``--threads N`` sets ``OMP_NUM_THREADS`` of every
run (1 on cores shared with other jobs). Results are rewritten after every run; a restarted chain
reuses every finished run whose config is unchanged (``<run>/result.json``).

Example (``docs/demo_chain.md`` measures the second, with ``--threads 2 --out-dir
work_dirs/demo_chain_ls1``, and two earlier runs of it before the classification demo's layer scale
was 1.0)::

    python projects/demo_chain/demo_chain.py --budget small --out-dir work_dirs/demo_chain_small
    python projects/demo_chain/demo_chain.py --budget short --low-data 100 --seeds 0 1 --threads 1 \
        --out-dir work_dirs/demo_chain
"""

import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

from mmengine.config import Config

from convnext_dense.analysis.logs import latest_checkpoint, metric_records
from convnext_dense.apis.cli import run_cli
from convnext_dense.datasets.synthetic import generate_ade, generate_coco, generate_imagefolder
from convnext_dense.datasets.synthetic.imagefolder import CLASSES
from convnext_dense.errors import ConfigError, TrainingError

# The repository: configs, data and work dirs are relative to it, and tools/train.py runs there.
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

CLS_CFG = 'configs/classification/demo/convnext_demo.py'
DET_CFG = 'configs/detection/demo/cascade_convnext_demo_pretrained.py'
SEG_CFG = 'configs/segmentation/demo/upernet_convnext_demo_pretrained.py'

# Per budget: pretraining epochs; detection / segmentation iterations and validation interval; data.
BUDGETS = {
    'small': dict(cls_epochs=2, det_iters=4, det_val=2, seg_iters=4, seg_val=2, tiny_data=True),
    'short': dict(cls_epochs=24, det_iters=200, det_val=50, seg_iters=400, seg_val=100, tiny_data=False),
    'full': dict(cls_epochs=24, det_iters=700, det_val=100, seg_iters=1500, seg_val=250, tiny_data=False),
}
THREADS = {}  # OMP_NUM_THREADS for the runs, from --threads
METRICS = dict(cls='accuracy/top1', det_box='coco/bbox_mAP', det_mask='coco/segm_mAP', seg='mIoU')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='work_dirs/demo_chain', help='where runs, table and curves go')
    parser.add_argument('--budget', choices=sorted(BUDGETS), default='full', help='see the module docstring')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1], help='seeds of the downstream runs')
    parser.add_argument(
        '--low-data', type=int, default=None, metavar='N', help='train detection and segmentation on N generated images'
    )
    parser.add_argument('--skip', nargs='*', default=[], choices=['det', 'seg'], help='downstream tasks to leave out')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='OMP_NUM_THREADS of every run (default: inherited); 1 on cores shared with other jobs',
    )
    return parser.parse_args(argv)


def prepare_data(out_dir, budget, low_data):
    """The three data folders (generated where missing); tiny sets for the small budget or low data."""
    tiny = BUDGETS[budget]['tiny_data']
    data = dict(
        cls=osp.join(out_dir, 'data', 'cls') if tiny else 'data/synthetic_cls',
        coco=osp.join(out_dir, 'data', 'coco') if tiny or low_data else 'data/synthetic_coco',
        ade=osp.join(out_dir, 'data', 'ade') if tiny or low_data else 'data/synthetic_ade',
    )
    cls_train = osp.join(REPO, data['cls'], 'train')
    if osp.isdir(cls_train) and sorted(os.listdir(cls_train)) != sorted(CLASSES):
        # Written by an older generator (e.g. the shapes-only classes): pretraining on it would be stale.
        print(f"{data['cls']}: class folders are not the generator's {CLASSES}; rewriting it", flush=True)
        shutil.rmtree(osp.join(REPO, data['cls']))
    if not osp.isdir(cls_train):
        generate_imagefolder(
            osp.join(REPO, data['cls']), **(dict(num_train_per_class=8, num_val_per_class=2) if tiny else {})
        )
    if not osp.isfile(osp.join(REPO, data['coco'], 'annotations', 'instances_val.json')):
        sizes = dict(num_train=8, num_val=4) if tiny else dict(num_train=low_data or 600, num_val=120)
        generate_coco(osp.join(REPO, data['coco']), **sizes)
    if not osp.isdir(osp.join(REPO, data['ade'], 'annotations', 'validation')):
        sizes = dict(num_train=8, num_val=4) if tiny else dict(num_train=low_data or 400, num_val=100)
        generate_ade(osp.join(REPO, data['ade']), **sizes)
    return data


def write_config(path, work_dir, edit):
    """Load a config, apply ``edit(cfg)``, dump it to ``work_dir/config.py``; returns that path."""
    cfg = Config.fromfile(osp.join(REPO, path))
    edit(cfg)
    os.makedirs(work_dir, exist_ok=True)
    out = osp.join(work_dir, 'config.py')
    cfg.dump(out)
    return out


def run_train(config, work_dir, seed=None):
    """tools/train.py in a fresh process; returns the wall time in seconds (raises on failure, log kept)."""
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', work_dir]
    if seed is not None:
        cmd += ['--seed', str(seed)]
    start = time.time()
    with open(osp.join(work_dir, 'stdout.log'), 'w') as log:
        result = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, **THREADS))
    if result.returncode != 0:
        raise TrainingError(f'{" ".join(cmd)} failed (exit {result.returncode}); see {work_dir}/stdout.log')
    return time.time() - start


def train_once(path, work_dir, edit, seed, summarise):
    """Write the run's config (``write_config``) and train it; returns ``summarise(seconds)``, also saved as
    ``work_dir/result.json``. A run whose ``result.json`` exists and whose config is the very same is not
    trained again: a restarted chain reuses what it finished (delete ``result.json`` to force a rerun).

    The config the chain wrote is kept as ``work_dir/chain_config.py`` and compared against: mmengine's
    runner rewrites ``work_dir/config.py`` (the file it was given) with its own additions (``launcher``,
    ``randomness``), so that file never equals a freshly written one."""
    cache, config = osp.join(work_dir, 'result.json'), osp.join(work_dir, 'config.py')
    written = osp.join(work_dir, 'chain_config.py')
    old = None
    if osp.isfile(cache) and osp.isfile(written):
        with open(written) as f:
            old = f.read()
    write_config(path, work_dir, edit)
    with open(config) as f:
        if f.read() == old:
            with open(cache) as g:
                print(f'{work_dir}: finished before with the same config, reused', flush=True)
                return json.load(g)
    if osp.isfile(cache):
        os.remove(cache)
    shutil.copyfile(config, written)
    result = summarise(run_train(config, work_dir, seed))
    with open(cache, 'w') as f:
        json.dump(result, f)
    return result


def evaluations(work_dir, *keys):
    """The evaluation records (with ``step``) of the newest run in ``work_dir`` that hold ``keys``."""
    records = metric_records(work_dir, keys)
    if not records:
        raise TrainingError(f'{work_dir}: its newest run logged no {", ".join(keys)}: did the run validate?')
    return records


def scheduler(cfg, kind):
    """The one ``param_scheduler`` entry of type ``kind`` (edited by its type, not its place in the list)."""
    found = [s for s in cfg.param_scheduler if s.type == kind]
    if len(found) != 1:
        kinds = [s.type for s in cfg.param_scheduler]
        raise ConfigError(f'param_scheduler has {len(found)} {kind} (types: {kinds}); the chain edits exactly one')
    return found[0]


def pretrain(out_dir, data, b):
    work = osp.join(out_dir, 'pretrain')

    def edit(cfg):
        cfg.work_dir = work
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[loader].dataset.data_root = data['cls']
        epochs = b['cls_epochs']
        cfg.train_cfg.max_epochs = epochs
        cfg.train_cfg.val_interval = max(1, epochs // 6)
        scheduler(cfg, 'CosineAnnealingLR').update(T_max=max(1, epochs - 1), end=epochs)
        cfg.default_hooks.checkpoint.interval = epochs
        if b['tiny_data']:
            cfg.train_dataloader.batch_size = 16
            cfg.val_dataloader.batch_size = cfg.test_dataloader.batch_size = 16

    def summarise(seconds):
        records = evaluations(work, METRICS['cls'])
        return dict(
            task='pretrain',
            start='-',
            seed=0,
            seconds=seconds,
            checkpoint=latest_checkpoint(work),
            top1=records[-1][METRICS['cls']],
            curve=[(r['step'], r[METRICS['cls']]) for r in records],
        )

    return train_once(CLS_CFG, work, edit, None, summarise)


def detect(out_dir, data, b, checkpoint, seed, recipe=None):
    """One detection run from ``checkpoint`` (None: random init). ``recipe``: ``(name, edit)``, a variant of
    the fine-tuning recipe (``edit(cfg)`` after the chain's own edits; projects/demo_chain/small_data.py)."""
    start = 'pretrained' if checkpoint else 'random'
    work = osp.join(out_dir, f'det_{start}_seed{seed}' if recipe is None else f'det_{recipe[0]}_seed{seed}')

    def edit(cfg):
        cfg.work_dir = work
        root = data['coco'].rstrip('/') + '/'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[loader].dataset.data_root = root
        cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = root + 'annotations/instances_val.json'
        cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint) if checkpoint else None
        iters = b['det_iters']
        cfg.train_cfg.update(max_iters=iters, val_interval=b['det_val'])
        scheduler(cfg, 'LinearLR').end = min(100, max(1, iters // 7))
        scheduler(cfg, 'MultiStepLR').update(end=iters, milestones=[int(iters * 550 / 700), int(iters * 650 / 700)])
        cfg.default_hooks.checkpoint.interval = iters
        cfg.default_hooks.logger.update(interval=min(50, iters), log_metric_by_epoch=False)  # step = iteration
        if b['tiny_data']:
            cfg.train_dataloader.batch_size = 2
        if recipe is not None:
            recipe[1](cfg)

    def summarise(seconds):
        records = evaluations(work, METRICS['det_box'], METRICS['det_mask'])
        last = records[-1]
        return dict(
            task='detection',
            start=start,
            recipe=None if recipe is None else recipe[0],
            seed=seed,
            seconds=seconds,
            box_ap=last[METRICS['det_box']],
            mask_ap=last[METRICS['det_mask']],
            curve=[(r['step'], r[METRICS['det_box']]) for r in records],
        )

    return train_once(DET_CFG, work, edit, seed, summarise)


def segment(out_dir, data, b, checkpoint, seed, recipe=None):
    """One segmentation run; the arguments as :func:`detect`'s."""
    start = 'pretrained' if checkpoint else 'random'
    work = osp.join(out_dir, f'seg_{start}_seed{seed}' if recipe is None else f'seg_{recipe[0]}_seed{seed}')

    def edit(cfg):
        cfg.work_dir = work
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[loader].dataset.data_root = data['ade']
        cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint) if checkpoint else None
        iters = b['seg_iters']
        cfg.train_cfg.update(max_iters=iters, val_interval=b['seg_val'])
        warmup = min(100, max(1, iters // 15))
        scheduler(cfg, 'LinearLR').end = warmup
        scheduler(cfg, 'PolyLR').update(begin=warmup, end=iters)
        cfg.default_hooks.checkpoint.interval = iters
        cfg.default_hooks.logger.interval = min(50, iters)
        if b['tiny_data']:
            cfg.train_dataloader.batch_size = 2
        if recipe is not None:
            recipe[1](cfg)

    def summarise(seconds):
        records = evaluations(work, METRICS['seg'])
        return dict(
            task='segmentation',
            start=start,
            recipe=None if recipe is None else recipe[0],
            seed=seed,
            seconds=seconds,
            miou=records[-1][METRICS['seg']],
            curve=[(r['step'], r[METRICS['seg']]) for r in records],
        )

    return train_once(SEG_CFG, work, edit, seed, summarise)


def fmt(value, scale=1.0, sign=''):
    return '-' if value is None else f'{value * scale:{sign}.1f}'


def table(runs, args):
    """One markdown table of every run, then the means over seeds per task and start."""
    lines = [
        f'Budget `{args.budget}`, seeds {args.seeds}'
        + (f', {args.low_data} training images downstream' if args.low_data else '')
        + '.',
        '',
        '| run | start | seed | top-1 (%) | box AP | mask AP | mIoU | time |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for r in runs:
        lines.append(
            f"| {r['task']} | {r['start']} | {r['seed']} | {fmt(r.get('top1'))} | "
            f"{fmt(r.get('box_ap'), 100)} | {fmt(r.get('mask_ap'), 100)} | {fmt(r.get('miou'))} | "
            f"{r['seconds']:.0f} s |"
        )
    lines += ['', '| mean over seeds | start | box AP | mask AP | mIoU | time |', '|---|---|---|---|---|---|']
    for task in ('detection', 'segmentation'):
        means = {}
        for start in ('pretrained', 'random'):
            sel = [r for r in runs if r['task'] == task and r['start'] == start]
            if not sel:
                continue
            means[start] = {
                key: (sum(r[key] for r in sel) / len(sel) if all(r.get(key) is not None for r in sel) else None)
                for key in ('box_ap', 'mask_ap', 'miou', 'seconds')
            }
            m = means[start]
            lines.append(
                f"| {task} | {start} | {fmt(m['box_ap'], 100)} | {fmt(m['mask_ap'], 100)} | "
                f"{fmt(m['miou'])} | {m['seconds']:.0f} s |"
            )
        if len(means) == 2:
            diff = {
                key: (None if means['pretrained'][key] is None else means['pretrained'][key] - means['random'][key])
                for key in ('box_ap', 'mask_ap', 'miou')
            }
            lines.append(
                f"| {task} | pretrained - random | {fmt(diff['box_ap'], 100, '+')} | "
                f"{fmt(diff['mask_ap'], 100, '+')} | {fmt(diff['miou'], 1, '+')} | |"
            )
    return '\n'.join(lines) + '\n'


def plot(runs, path):
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, task, label, scale in (
        (axes[0], 'detection', 'box AP (COCO mAP)', 100.0),
        (axes[1], 'segmentation', 'mIoU', 1.0),
    ):
        for r in (r for r in runs if r['task'] == task):
            steps = [s for s, _ in r['curve']]
            ax.plot(
                steps,
                [v * scale for _, v in r['curve']],
                marker='o',
                color='tab:blue' if r['start'] == 'pretrained' else 'tab:orange',
                linestyle='-' if r['seed'] == min(x['seed'] for x in runs if x['task'] == task) else '--',
                label=f"{r['start']}, seed {r['seed']}",
            )
        ax.set(title=task, xlabel='iteration', ylabel=label)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_results(runs, args, out_dir, seconds, final):
    """results.md, results.json and curves.png of the runs so far (after every run: a stopped chain keeps
    what it measured); returns the markdown."""
    text = table(runs, args) + (
        f'\nTotal wall time: {seconds:.0f} s.\n'
        if final
        else f'\nUnfinished: {len(runs)} runs so far, {seconds:.0f} s.\n'
    )
    with open(osp.join(out_dir, 'results.md'), 'w') as f:
        f.write(text)
    with open(osp.join(out_dir, 'results.json'), 'w') as f:
        json.dump(runs, f, indent=1)
    plot(runs, osp.join(out_dir, 'curves.png'))
    return text


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        THREADS['OMP_NUM_THREADS'] = str(args.threads)
    out_dir = osp.abspath(osp.join(REPO, args.out_dir)) if not osp.isabs(args.out_dir) else args.out_dir
    os.makedirs(out_dir, exist_ok=True)
    b = BUDGETS[args.budget]
    total = time.time()
    data = prepare_data(out_dir, args.budget, args.low_data)
    runs = [pretrain(out_dir, data, b)]
    checkpoint = runs[0]['checkpoint']
    print(f"pretrained: top-1 {runs[0]['top1']:.1f} % in {runs[0]['seconds']:.0f} s -> {checkpoint}", flush=True)
    write_results(runs, args, out_dir, time.time() - total, final=False)
    for seed in args.seeds:
        for ckpt in (checkpoint, None):
            if 'det' not in args.skip:
                runs.append(detect(out_dir, data, b, ckpt, seed))
                print(
                    f"detection {runs[-1]['start']} seed {seed}: box AP {runs[-1]['box_ap'] * 100:.1f} "
                    f"in {runs[-1]['seconds']:.0f} s",
                    flush=True,
                )
                write_results(runs, args, out_dir, time.time() - total, final=False)
            if 'seg' not in args.skip:
                runs.append(segment(out_dir, data, b, ckpt, seed))
                print(
                    f"segmentation {runs[-1]['start']} seed {seed}: mIoU {runs[-1]['miou']:.1f} "
                    f"in {runs[-1]['seconds']:.0f} s",
                    flush=True,
                )
                write_results(runs, args, out_dir, time.time() - total, final=False)
    text = write_results(runs, args, out_dir, time.time() - total, final=True)
    print(text)
    print(f'written: {out_dir}/results.md, results.json, curves.png')
    return runs


if __name__ == '__main__':
    sys.exit(run_cli(main))
