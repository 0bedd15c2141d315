"""Write the small synthetic datasets that the demo configs train on.

    python tools/make_demo_data.py coco --out data/synthetic_coco      # shapes, COCO instances format
    python tools/make_demo_data.py ade --out data/synthetic_ade        # textures, ADE20K semantic format
    python tools/make_demo_data.py cls --out data/synthetic_cls        # a shape or a texture per image, ImageNet layout
    python tools/make_demo_data.py cls --out data/tiny_cls --num-classes 4 --train-per-class 20 --val-per-class 5

Each subcommand is one entry of COMMANDS: a function adding its arguments and a function running it.
"""

import argparse
import json
import sys
import time

from convnext_dense.apis.cli import run_cli


def add_coco_args(parser):
    parser.add_argument('--out', default='data/synthetic_coco', help='output folder (default: %(default)s)')
    parser.add_argument('--num-train', type=int, default=600, help='training images (default: %(default)s)')
    parser.add_argument('--num-val', type=int, default=120, help='validation images (default: %(default)s)')
    parser.add_argument('--image-size', type=int, default=128, help='square image side (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: %(default)s)')


def run_coco(args):
    from convnext_dense.datasets.synthetic import generate_coco

    return generate_coco(
        args.out, num_train=args.num_train, num_val=args.num_val, image_size=args.image_size, seed=args.seed
    )


def add_ade_args(parser):
    parser.add_argument('--out', default='data/synthetic_ade', help='output folder (default: %(default)s)')
    parser.add_argument('--num-train', type=int, default=400, help='training images (default: %(default)s)')
    parser.add_argument('--num-val', type=int, default=100, help='validation images (default: %(default)s)')
    parser.add_argument(
        '--image-size',
        type=int,
        default=128,
        help='typical image side; each side varies by x0.8..1.25 (default: %(default)s)',
    )
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: %(default)s)')


def run_ade(args):
    from convnext_dense.datasets.synthetic import generate_ade

    return generate_ade(
        args.out, num_train=args.num_train, num_val=args.num_val, image_size=args.image_size, seed=args.seed
    )


def add_cls_args(parser):
    from convnext_dense.datasets.synthetic.imagefolder import CLASSES

    parser.add_argument('--out', default='data/synthetic_cls', help='output folder (default: %(default)s)')
    parser.add_argument(
        '--num-classes',
        type=int,
        default=len(CLASSES),
        help=f'classes, the first N of {CLASSES} (default: %(default)s)',
    )
    parser.add_argument(
        '--train-per-class', type=int, default=200, help='training images per class (default: %(default)s)'
    )
    parser.add_argument(
        '--val-per-class', type=int, default=30, help='validation images per class (default: %(default)s)'
    )
    parser.add_argument('--image-size', type=int, default=64, help='side of the square images (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: %(default)s)')


def run_cls(args):
    from convnext_dense.datasets.synthetic import generate_imagefolder

    return generate_imagefolder(
        args.out,
        num_classes=args.num_classes,
        num_train_per_class=args.train_per_class,
        num_val_per_class=args.val_per_class,
        image_size=args.image_size,
        seed=args.seed,
    )


# name: (help, add_args, run)
COMMANDS = {
    'coco': ('synthetic shapes for detection / instance segmentation (COCO format)', add_coco_args, run_coco),
    'ade': ('synthetic textures for semantic segmentation (ADE20K format)', add_ade_args, run_ade),
    'cls': (
        'synthetic shapes and textures for classification pretraining (ImageNet folder layout)',
        add_cls_args,
        run_cls,
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest='command', required=True)
    for name, (help_text, add_args, run) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text)
        add_args(sub)
        sub.set_defaults(run=run)
    args = parser.parse_args()
    start = time.time()
    summary = args.run(args)
    print(json.dumps(summary, indent=2, default=str))
    print(f'{args.command}: done in {time.time() - start:.1f}s')


if __name__ == '__main__':
    sys.exit(run_cli(main))  # a user mistake prints `error: ...` (exit code 2), not a traceback
