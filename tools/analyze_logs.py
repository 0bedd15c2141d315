"""Curves of logged scalars (losses, lr, AP, mIoU, top-1) from one or more runs, and a summary table.

python tools/analyze_logs.py work_dirs/cascade_convnext_demo --keys loss coco/bbox_mAP --out curves.png
python tools/analyze_logs.py work_dirs/cascade_convnext_demo work_dirs/cascade_swin_demo \\
    --legend ConvNeXt Swin --keys loss loss_cls lr --out convnext_vs_swin.png --table summary.md

Each path is a work dir (its newest run), a <timestamp> run folder or a vis_data/scalars.json. The table
(printed, and written with --table) gives each key's best value and its iteration, and the mean seconds
per iteration.
"""

import argparse
import sys

from convnext_dense.analysis.curves import default_labels, load_runs, markdown_summary, plot_curves
from convnext_dense.apis.cli import run_cli
from convnext_dense.errors import ConfigError


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('paths', nargs='+', help='work dirs, run folders or scalars.json files')
    parser.add_argument('--keys', nargs='+', default=['loss'], help='scalars to plot (default: loss)')
    parser.add_argument('--legend', nargs='+', help='one name a path (default: the work dir names)')
    parser.add_argument('--x', choices=('iter', 'epoch'), default='iter', help='x axis (default: iter)')
    parser.add_argument('--out', help='PNG of the curves (default: none, the table only)')
    parser.add_argument('--table', help='also write the markdown table to this file')
    parser.add_argument('--title', help='title of the figure')
    args = parser.parse_args(argv)
    if args.legend and len(args.legend) != len(args.paths):
        raise ConfigError(f'--legend has {len(args.legend)} names for {len(args.paths)} paths: give one a path')
    labels = args.legend or default_labels(args.paths)
    runs = load_runs(args.paths)
    table = markdown_summary(runs, labels, args.keys)
    print(table, end='')
    if args.table:
        with open(args.table, 'w') as f:
            f.write(table)
    if args.out:
        print(f'curves: {plot_curves(runs, labels, args.keys, args.out, x=args.x, title=args.title)}')


if __name__ == '__main__':
    sys.exit(run_cli(main))
