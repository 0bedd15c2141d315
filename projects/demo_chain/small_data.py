"""Fine-tuning on a small dataset: the paper's downstream recipe against its variants, on the demo sets.

The question of a user with a few hundred images: which weights, which layers to train, how much
layer-wise lr decay and drop path. This experiment answers it at demo scale, with the machinery of
``demo_chain.py`` (same data, schedules, pretraining and run reuse):

1. pretrains the classification demo (the chain's ``pretrain``; reused when ``--out-dir`` already
   holds it), or takes ``--checkpoint``;
2. fine-tunes the detection and segmentation demos (``*_pretrained.py``) from that checkpoint on
   ``--low-data`` generated training images (100 by default; the demos' full validation sets), once
   per recipe and seed. Each recipe is one edit of the same config (:data:`RECIPES`), so a row differs
   from ``paper`` in that edit only;
3. writes ``small_data.md`` (every run, then the mean and spread over seeds per recipe, with the
   difference to ``paper``) and ``small_data.json`` into ``--out-dir``, after every run.

An experiment, not a tool; ``docs/custom_data.md`` ("Small datasets") gives the measured run. Example::

    python projects/demo_chain/small_data.py --tasks seg det --seeds 0 1 --threads 1 \\
        --out-dir work_dirs/small_data
"""

import argparse
import json
import os
import os.path as osp
import statistics
import sys
import time

# demo_chain.py sits beside this file: a script's own folder is on sys.path when it runs
from demo_chain import BUDGETS, REPO, THREADS, detect, fmt, prepare_data, pretrain, segment

from convnext_dense.apis.cli import run_cli
from convnext_dense.errors import MissingFileError


def _frozen(stages):
    def edit(cfg):
        cfg.model.backbone.frozen_stages = stages

    return edit


def _layer_decay(rate):
    def edit(cfg):
        cfg.optim_wrapper.paramwise_cfg.decay_rate = rate

    return edit


def _drop_path(rate):
    def edit(cfg):
        cfg.model.backbone.drop_path_rate = rate

    return edit


def _random_init(cfg):
    cfg.model.backbone.init_cfg = None


# name -> (what it changes, edit). 'paper' is the *_pretrained demos as they are: AdamW, layer-wise lr decay
# 0.7 over the backbone (the paper's Cascade Mask R-CNN T value), every stage trained (the ConvNeXt recipes'
# frozen_stages=-1), the demos' drop path (detection 0.0, segmentation 0.1).
RECIPES = {
    'paper': ("the paper's recipe as the *_pretrained demos set it", lambda cfg: None),
    'random_init': ('the same recipe from random init (no pretrained weights)', _random_init),
    'frozen_stem_stage0': ('frozen_stages=1: stem and stage 0 keep the pretrained weights', _frozen(1)),
    'frozen_3_stages': ('frozen_stages=3: only the last stage, neck and heads train', _frozen(3)),
    'no_layer_decay': ("layer-wise decay 1.0: every backbone layer at the heads' lr", _layer_decay(1.0)),
    'drop_path_0.3': ('drop path 0.3 (the demos: 0.0 detection, 0.1 segmentation)', _drop_path(0.3)),
}
METRIC = dict(detection=('box_ap', 100.0), segmentation=('miou', 1.0))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='work_dirs/small_data', help='runs, the pretraining and the tables')
    parser.add_argument('--tasks', nargs='+', choices=['det', 'seg'], default=['seg', 'det'])
    parser.add_argument('--recipes', nargs='+', choices=sorted(RECIPES), default=sorted(RECIPES))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--low-data', type=int, default=100, metavar='N', help='generated training images')
    parser.add_argument('--budget', choices=['small', 'short'], default='short', help="demo_chain.py's budgets")
    parser.add_argument('--threads', type=int, default=None, help='OMP_NUM_THREADS of every run')
    parser.add_argument(
        '--checkpoint', default=None, help='fine-tune from this classification checkpoint instead of pretraining'
    )
    return parser.parse_args(argv)


def table(runs):
    """Every run, then per task and recipe the mean (and the spread, max - min) over seeds and the difference
    of the mean to ``paper``."""
    lines = ['| task | recipe | seed | box AP | mask AP | mIoU | time |', '|---|---|---|---|---|---|---|']
    for r in runs:
        lines.append(
            f"| {r['task']} | {r['recipe']} | {r['seed']} | {fmt(r.get('box_ap'), 100)} | "
            f"{fmt(r.get('mask_ap'), 100)} | {fmt(r.get('miou'))} | {r['seconds']:.0f} s |"
        )
    lines += [
        '',
        '| task | recipe | what it changes | seeds | mean | spread | vs paper |',
        '|---|---|---|---|---|---|---|',
    ]
    for task, (key, scale) in METRIC.items():
        means = {}
        for name in RECIPES:
            values = [r[key] * scale for r in runs if r['task'] == task and r['recipe'] == name]
            if values:
                means[name] = (statistics.mean(values), max(values) - min(values), len(values))
        for name, (mean, spread, n) in means.items():
            diff = '-' if name == 'paper' or 'paper' not in means else f'{mean - means["paper"][0]:+.1f}'
            label = f'{task} ({"box AP" if key == "box_ap" else "mIoU"})'
            lines.append(f'| {label} | {name} | {RECIPES[name][0]} | {n} | {mean:.1f} | {spread:.1f} | {diff} |')
    return '\n'.join(lines) + '\n'


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        THREADS['OMP_NUM_THREADS'] = str(args.threads)
    out_dir = args.out_dir if osp.isabs(args.out_dir) else osp.join(REPO, args.out_dir)
    os.makedirs(out_dir, exist_ok=True)
    b = BUDGETS[args.budget]
    data = prepare_data(out_dir, args.budget, args.low_data)
    if args.checkpoint:
        checkpoint = osp.abspath(args.checkpoint)
        if not osp.isfile(checkpoint):
            raise MissingFileError(f'--checkpoint {args.checkpoint}: no such file; give a classification checkpoint')
    else:
        pre = pretrain(out_dir, data, b)
        checkpoint = pre['checkpoint']
        print(f"pretrained: top-1 {pre['top1']:.1f} % -> {checkpoint}", flush=True)
    runs, start = [], time.time()
    train = dict(det=detect, seg=segment)
    for task in args.tasks:
        for seed in args.seeds:
            for name in args.recipes:
                run = train[task](out_dir, data, b, checkpoint, seed, recipe=(name, RECIPES[name][1]))
                runs.append(run)
                key, scale = METRIC[run['task']]
                print(f"{run['task']} {name} seed {seed}: {run[key] * scale:.1f} in {run['seconds']:.0f} s", flush=True)
                head = f'Fine-tuned from `{checkpoint}` on {args.low_data} training images.\n\n'
                text = head + table(runs) + f'\n{len(runs)} runs, {time.time() - start:.0f} s.\n'
                with open(osp.join(out_dir, 'small_data.md'), 'w') as f:
                    f.write(text)
                with open(osp.join(out_dir, 'small_data.json'), 'w') as f:
                    json.dump(runs, f, indent=1)
    print(text)
    print(f'written: {out_dir}/small_data.md, small_data.json')
    return runs


if __name__ == '__main__':
    sys.exit(run_cli(main))
