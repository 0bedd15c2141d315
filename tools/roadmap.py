"""Train the paper's roadmap (ResNet -> ConvNeXt, step by step) on a task, then draw it as the paper's Figure 2.

Every step x seed is trained with one recipe (the config), each by tools/train.py in its own process into
<work-dir>/<step>_seed<seed>: a finished run is reused, an interrupted one resumed. The neck's or heads' widths
follow each step. Written: <work-dir>/roadmap.md (step, GFLOPs, params, images/s, metric per seed, mean, the
paper's ImageNet-1K top-1), roadmap.json and roadmap.png.

python tools/roadmap.py --task cls --seeds 0 1                       # every step on the synthetic image folder
python tools/roadmap.py --task det --steps resnet kernel_7 separate_downsampling --seeds 0 1
python tools/roadmap.py --task cls --config configs/roadmap/roadmap_r50_cifar100.py --steps resnet gelu
"""

import argparse
import os.path as osp
import sys

import convnext_dense  # noqa: F401  (registers the models and datasets)
from convnext_dense.analysis.roadmap import TASKS, run_roadmap
from convnext_dense.apis.cli import run_cli
from convnext_dense.models.roadmap_steps import STEPS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--task', required=True, choices=sorted(TASKS), help='cls, det or seg')
    parser.add_argument('--steps', nargs='+', default=list(STEPS), help='roadmap steps (default: all)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1], help='seeds (default 0 1)')
    parser.add_argument('--config', help="the recipe (default: the task's demo in configs/roadmap/demo/)")
    parser.add_argument('--work-dir', help='where runs, table and figure go (default work_dirs/roadmap_<task>)')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[], help='key=value options for every run, e.g. train_cfg.max_iters=50'
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    run_roadmap(
        args.task,
        args.steps,
        args.seeds,
        args.config or TASKS[args.task].config,
        args.work_dir or f'work_dirs/roadmap_{args.task}',
        args.cfg_options,
        repo=REPO,
    )


if __name__ == '__main__':
    sys.exit(run_cli(main))
