"""Print the FLOPs and parameters of a config's model (whole model and backbone).

    python tools/flops.py configs/detection/cascade_convnext_t_3x.py              # 1280x800, as the paper
    python tools/flops.py configs/segmentation/upernet_convnext_t_512_160k_ade20k.py   # 2048x512
    python tools/flops.py CONFIG --shape 512 512

FLOPs are counted by mmengine's FlopAnalyzer (one fused multiply-add = 1 FLOP, the papers' convention).
"""

import argparse
import sys

import convnext_dense  # noqa: F401
from convnext_dense.analysis import model_complexity
from convnext_dense.apis import load_config
from convnext_dense.apis.cli import run_cli


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('W', 'H'),
        help='input width and height (default: 1280 800 detection, 2048 512 segmentation, 224 224 classification)',
    )
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    result = model_complexity(cfg, args.shape)
    w, h = result['shape']
    print(f'{args.config} at {w}x{h}')
    print('| part | GFLOPs | params (M) |\n|---|---|---|')
    print(f"| whole model | {result['flops'] / 1e9:.1f} | {result['params'] / 1e6:.2f} |")
    print(f"| backbone | {result['backbone_flops'] / 1e9:.1f} | {result['backbone_params'] / 1e6:.2f} |")


if __name__ == '__main__':
    sys.exit(run_cli(main))
