"""Convert a ConvNeXt checkpoint (official FB, V2 FCMAE, timm, mmpretrain or convnext_dense) to this project's layout.

    python tools/convert_checkpoint.py convnext_tiny_1k_224.pth checkpoints/convnext_t_in1k.pth
    python tools/convert_checkpoint.py work_dirs/convnext_t_in1k/epoch_300.pth out.pth --ema
    python tools/convert_checkpoint.py convnextv2_tiny_1k_224_fcmae.pt convnextv2_tiny_fcmae_dense.pth

Not needed for training (configs load every layout directly); useful to inspect or ship weights.
The output holds ``state_dict`` (backbone keys, plus the classifier's ``norm``/``head`` when present)
and ``meta`` (source file, inferred arch). It is written atomically.
"""

import argparse
import io
import sys

import torch

import convnext_dense  # noqa: F401
from convnext_dense.apis.cli import run_cli
from convnext_dense.engine import atomic_write
from convnext_dense.errors import CheckpointError
from convnext_dense.models.checkpoint import read_checkpoint
from convnext_dense.models.state_dict import convert_state_dict, describe_arch, infer_arch


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='input checkpoint')
    parser.add_argument('dst', help='output .pth')
    parser.add_argument('--ema', action='store_true', help='take the EMA weights of a classification checkpoint')
    args = parser.parse_args()

    state = convert_state_dict(read_checkpoint(args.src, use_ema=args.ema))
    arch = infer_arch(state)
    if arch is None:
        raise CheckpointError(
            f'{args.src}: no ConvNeXt stages found (keys such as {list(state)[:5]}); ' f'is this a ConvNeXt checkpoint?'
        )
    buffer = io.BytesIO()
    torch.save({'state_dict': state, 'meta': dict(source=args.src, ema=args.ema, arch=arch)}, buffer)
    atomic_write(buffer.getvalue(), args.dst)
    print(f'{args.dst}: {len(state)} tensors, {describe_arch(arch)}{" (EMA)" if args.ema else ""}')


if __name__ == '__main__':
    sys.exit(run_cli(main))
