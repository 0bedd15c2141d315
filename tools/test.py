"""Evaluate a checkpoint: COCO box/mask AP (detection), mIoU (segmentation) or top-1 (classification).

python tools/test.py CONFIG CHECKPOINT
python tools/test.py CONFIG CHECKPOINT --out results.pkl --show-dir vis/   # results file, drawn predictions
python tools/test.py CONFIG CHECKPOINT --tta                               # multi-scale + flip
bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""

import argparse
import sys

from mmengine.config import DictAction
from mmengine.runner import Runner

import convnext_dense  # noqa: F401  (registers ConvNeXt and the checkpoint loader)
from convnext_dense.apis import add_launcher_args, apply_test_args, load_config
from convnext_dense.apis.cli import run_cli
from convnext_dense.apis.preflight import preflight
from convnext_dense.engine import setup_distributed


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the log and metrics go (default work_dirs/<config name>)')
    parser.add_argument('--out', help='detection: a .pkl of raw results; segmentation: a folder of PNG masks')
    parser.add_argument('--show-dir', help='draw predictions (and ground truth) into this folder')
    parser.add_argument('--tta', action='store_true', help="test-time augmentation from the config's tta_pipeline")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config values')
    add_launcher_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = apply_test_args(load_config(args.config, args.cfg_options), args)
    preflight(cfg, args.config, mode='test')  # data, weights, device, classes: all problems at once
    setup_distributed(cfg)  # with a launcher and no GPU: the gloo process group, CPU DDP and SyncBN
    Runner.from_cfg(cfg).test()


if __name__ == '__main__':
    sys.exit(run_cli(main))  # a user mistake prints `error: ...` (exit code 2), not a traceback
