"""Effective receptive field of a backbone stage (RepLKNet's method): a PNG grid and the area ratios.

python tools/erf.py configs/detection/cascade_convnext_t_3x.py configs/detection/cascade_swin_t_3x.py \\
    --images data/synthetic_coco/val --out erf.png
python tools/erf.py configs/roadmap/roadmap_r50_in1k.py --images data/synthetic_coco/val \\
    --variant model.backbone.step=resnet --variant model.backbone.step=kernel_7 --out roadmap_erf.png
python tools/erf.py CONFIG --checkpoint work_dirs/<config>/iter_N.pth --images DIR   # trained weights

For each config (times each --variant, a set of --cfg-options of its own) the backbone is built at random
init, or with --checkpoint's backbone weights (one config), and the contribution of every input pixel to
the central point of the chosen stage's output is averaged over the images, log-scaled and drawn; the
table gives the area ratio of the smallest centred square holding 20/30/50/99 % of the contribution
(Ding et al., CVPR 2022).
"""

import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

import convnext_dense  # noqa: F401  (registers the backbones)
from convnext_dense.analysis.erf import (
    backbone_from_config,
    erf_map,
    load_images,
    log_scale,
    markdown_ratios,
    plot_grid,
)
from convnext_dense.apis import load_config
from convnext_dense.apis.cli import run_cli
from convnext_dense.errors import ConfigError


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='+', help='detection, segmentation or classification configs')
    parser.add_argument('--images', required=True, help='a folder of images (the first --num-images, sorted)')
    parser.add_argument('--num-images', type=int, default=8, help='images to average over (default 8)')
    parser.add_argument('--size', type=int, default=256, help='input side in pixels (default 256; RepLKNet 1024)')
    parser.add_argument('--stage', type=int, default=-1, help="which of the backbone's outputs (default: the last)")
    parser.add_argument('--rectify', choices=('relu', 'abs'), default='relu', help="gradient's sign (RepLKNet: relu)")
    parser.add_argument('--checkpoint', help='trained weights (a checkpoint of the one config given)')
    parser.add_argument('--variant', nargs='+', action='append', default=[], help='a set of --cfg-options per column')
    parser.add_argument('--names', nargs='+', help='one panel title per config x variant')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config values (all columns)')
    parser.add_argument('--out', default='erf.png', help='the PNG grid (default erf.png); the table goes beside it')
    args = parser.parse_args(argv)
    if args.num_images < 1 or args.size < 32:
        raise ConfigError(f'--num-images {args.num_images} --size {args.size}: need at least 1 image of 32 pixels')
    if args.checkpoint and len(args.configs) != 1:
        raise ConfigError(f'--checkpoint holds the weights of one config, {len(args.configs)} were given')
    variants = [dict(_parse(v) for v in vs) for vs in args.variant] or [{}]
    jobs = [(c, v) for c in args.configs for v in variants]
    if args.names and len(args.names) != len(jobs):
        raise ConfigError(f'--names has {len(args.names)} titles for {len(jobs)} panels (configs x variants)')
    images = load_images(args.images, args.size, args.num_images)
    maps, names = [], []
    for i, (config, variant) in enumerate(jobs):
        cfg = load_config(config, {**(args.cfg_options or {}), **variant} or None)
        backbone = backbone_from_config(cfg, args.checkpoint)
        maps.append(log_scale(erf_map(backbone, images, stage=args.stage, rectify=args.rectify).numpy()))
        name = osp.splitext(osp.basename(config))[0] + ''.join(f' {k.split(".")[-1]}={v}' for k, v in variant.items())
        names.append(args.names[i] if args.names else name)
    what = 'trained' if args.checkpoint else 'random init'
    stage = 'last stage' if args.stage == -1 else f'stage {args.stage}'
    plot_grid(maps, [f'{n}\n({what}, {stage})' for n in names], args.out)
    lines = [
        f'Area ratio (%) of the smallest centred square holding t of the contribution; {len(images)} images of '
        f'{args.images} at {args.size}x{args.size}, {stage}, {what}.',
        '',
    ] + markdown_ratios(names, maps)
    table = osp.splitext(args.out)[0] + '.md'
    with open(table, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))
    print(f'grid: {args.out}\ntable: {table}')


def _parse(option: str):
    """'model.backbone.step=resnet' -> ('model.backbone.step', 'resnet'), the value as --cfg-options reads it."""
    if '=' not in option:
        raise ConfigError(f'--variant {option!r}: write key=value, as in --cfg-options')
    key, value = option.split('=', 1)
    return key, DictAction._parse_iterable(value)


if __name__ == '__main__':
    sys.exit(run_cli(main))
