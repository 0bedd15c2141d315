"""Backbone speed and memory: convnext_dense's ConvNeXt vs timm's reference and mmdet's Swin, same input.

    python tools/benchmark_backbone.py                         # CPU, 1x3x512x512, tiny sizes
    python tools/benchmark_backbone.py --device cuda --batch 8 --size 800 1280 --amp --out docs/backbone_speed.md

Prints a markdown table: parameters, GFLOPs, forward images/s (inference), forward+backward images/s
(training), and peak memory (CUDA: max allocated; CPU: peak RSS growth during the run). Each backbone is
measured in its own process, so one's memory peak does not hide another's. Timings are medians over
--iters runs after --warmup runs.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import timm
import torch
from torch.utils.flop_counter import FlopCounterMode

import convnext_dense  # noqa: F401
from convnext_dense.models import ConvNeXt


def build(name: str) -> torch.nn.Module:
    if name == 'convnext_dense ConvNeXt-T':
        return ConvNeXt('tiny', drop_path_rate=0.0, layer_scale_init_value=1.0)
    if name == 'timm convnext_tiny (features_only)':
        return timm.create_model('convnext_tiny', pretrained=False, features_only=True)
    if name == 'convnext_dense ConvNeXt-T, with_cp':
        return ConvNeXt('tiny', layer_scale_init_value=1.0, with_cp=True)
    if name == 'mmdet Swin-T':
        from mmdet.models.backbones import SwinTransformer
        return SwinTransformer(embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7,
                               out_indices=(0, 1, 2, 3))
    raise ValueError(name)


MODELS = ['convnext_dense ConvNeXt-T', 'timm convnext_tiny (features_only)', 'convnext_dense ConvNeXt-T, with_cp',
          'mmdet Swin-T']


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def _timed(fn, device, warmup, iters):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(name, args, device):
    model = build(name).to(device)
    x = torch.randn(args.batch, 3, *args.size, device=device)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    # torch's counter (2 FLOPs per multiply-add) works on any module; mmengine's analyzer fails on Swin's
    # None submodules. Halved: the papers count one multiply-add as one FLOP.
    model.eval()  # not chained: mmdet's SwinTransformer.train() returns None
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x[:1])
    flops = counter.get_total_flops() / 2 / 1e9
    autocast = torch.autocast(device.type, enabled=args.amp, dtype=torch.float16 if device.type == 'cuda'
                              else torch.bfloat16)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def infer():
        with torch.no_grad(), autocast:
            model(x)

    def train_step():
        with autocast:
            out = model(x)
        sum(o.float().mean() for o in out).backward()

    model.eval()
    t_inf = _timed(infer, device, args.warmup, args.iters)
    model.train()
    t_train = _timed(train_step, device, args.warmup, args.iters)
    if device.type == 'cuda':
        mem = torch.cuda.max_memory_allocated() / 2 ** 20
    else:
        mem = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    return dict(name=name, params=params, flops=flops, inf=args.batch / t_inf, train=args.batch / t_train, mem=mem)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--size', type=int, nargs=2, default=(512, 512), metavar=('H', 'W'))
    parser.add_argument('--amp', action='store_true', help='autocast (fp16 on CUDA, bf16 on CPU)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--models', nargs='+', default=MODELS, choices=MODELS)
    parser.add_argument('--out', help='also write the table to this markdown file')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    if args.child:  # one backbone, in a fresh process: print its figures as JSON
        print(json.dumps(measure(args.models[0], args, device)))
        return
    where = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
    lines = [f'Backbones on {where}, input {args.batch}x3x{args.size[0]}x{args.size[1]}, '
             f'{"AMP" if args.amp else "fp32"}, median of {args.iters} after {args.warmup} warm-up runs; '
             f'torch {torch.__version__}.', '',
             '| backbone | params (M) | GFLOPs/img | inference img/s | train (fwd+bwd) img/s | peak memory (MiB) |',
             '|---|---|---|---|---|---|']
    print('\n'.join(lines), flush=True)
    passthrough = _drop_option(sys.argv[1:], '--models', len(args.models))
    passthrough = _drop_option(passthrough, '--out', 1)
    for name in args.models:
        proc = subprocess.run([sys.executable, __file__, *passthrough, '--child', '--models', name],
                              capture_output=True, text=True, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        row = (f"| {r['name']} | {r['params']:.1f} | {r['flops']:.1f} | {r['inf']:.2f} | {r['train']:.2f} | "
               f"{r['mem']:.0f} |")
        print(row, flush=True)
        lines.append(row)
    if args.out:
        with open(args.out, 'w') as f:
            f.write('\n'.join(lines) + f"\n\nCommand: `python tools/benchmark_backbone.py {' '.join(sys.argv[1:])}`\n")


def _drop_option(argv, option, nargs):
    if option not in argv:
        return list(argv)
    i = argv.index(option)
    return list(argv[:i]) + list(argv[i + 1 + nargs:])


if __name__ == '__main__':
    main()
