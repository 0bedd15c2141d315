"""Train a detector, segmentor or classifier from a config with mmengine's Runner.

python tools/train.py configs/detection/cascade_convnext_t_3x.py
python tools/train.py CONFIG --work-dir work_dirs/x --amp --seed 0 --cfg-options train_dataloader.batch_size=4
python tools/train.py CONFIG --resume              # continue from the latest checkpoint in the work dir
bash tools/dist_train.sh CONFIG 8                  # 8 GPUs with torchrun (DDP)
"""

import argparse
import sys

from mmengine.config import DictAction
from mmengine.runner import Runner

import convnext_dense  # noqa: F401  (registers ConvNeXt and the checkpoint loader)
from convnext_dense.apis import add_launcher_args, apply_train_args, load_config
from convnext_dense.apis.cli import run_cli
from convnext_dense.apis.preflight import preflight
from convnext_dense.engine import setup_distributed


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        default=None,
        help='resume from this checkpoint, or alone: from the latest one in the work dir',
    )
    parser.add_argument('--amp', action='store_true', help='mixed precision (needs a CUDA GPU)')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--deterministic', action='store_true', help='deterministic cuDNN (with --seed)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config values, e.g. train_cfg.max_epochs=12'
    )
    add_launcher_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = apply_train_args(load_config(args.config, args.cfg_options), args)
    preflight(cfg, args.config, mode='train')  # data, weights, device, classes: all problems at once
    setup_distributed(cfg)  # with a launcher and no GPU: the gloo process group, CPU DDP and SyncBN
    Runner.from_cfg(cfg).train()


if __name__ == '__main__':
    sys.exit(run_cli(main))  # a user mistake prints `error: ...` (exit code 2), not a traceback
