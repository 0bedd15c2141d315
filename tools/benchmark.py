"""The one benchmark command: backbones, whole models and trained models, fairly timed.

Backbones and whole models (``--models``; interleaved rounds in one process, median and spread,
equal-output check, GFLOPs, params, peak memory; writes markdown, JSON, PNG):

    python tools/benchmark.py --models timm:nchw timm convnext convnext-fused swin --batch 8 --size 224 224 --out b
    python tools/benchmark.py --models timm convnext --compile off on --channels-last off on --dtypes fp32 bf16
    python tools/benchmark.py --models config:configs/detection/cascade_convnext_t_3x.py \
        config:configs/detection/cascade_swin_t_3x.py --size 800 1280 --batch 1 --rounds 2 --warmup 1
    python tools/benchmark.py --scaling --models convnext timm swin --out docs/results/scaling   # PNGs vs size, batch
    python tools/benchmark.py --models convnext timm --depths 1 1 1 1 --dims 8 16 32 64   # a tiny model
    python tools/benchmark.py --models convnext convnext-fused --runtimes pytorch onnxruntime   # + ONNX exports

Trained models (positional configs): accuracy and train time from their logs, plus parameters,
inference speed and peak memory measured here, written as one markdown table:

    python tools/benchmark.py configs/detection/demo/cascade_convnext_demo.py \
        configs/detection/demo/cascade_swin_demo.py \
        --work-dirs work_dirs/cascade_convnext_demo work_dirs/cascade_swin_demo --checkpoints latest latest \
        --num-images 50 --out work_dirs/benchmark_detection.md

Per trained config:
* parameters: all parameters of the built model;
* speed: ``model.test_step`` (data preprocessing + forward + post-processing, batch 1) on the first
  ``--num-images`` images of the config's test set, after ``--warmup`` untimed images; loading and
  decoding the image files is done beforehand and not timed. The configs are timed by the same engine
  as ``--models``: each of ``--num-images`` interleaved rounds runs every config on its next image.
  ``images/s`` is the timed images over their total time; the median and min..max are per image;
* memory: peak resident set size of a fresh subprocess that loads the model and the images and
  infers them all (CPU), and ``torch.cuda.max_memory_allocated`` there (GPU);
* accuracy: the last evaluation in the work dir's newest run (``<timestamp>/vis_data/scalars.json``):
  COCO box / mask mAP for mmdet configs, mIoU / aAcc for mmseg configs;
* train time: wall time of that run, from its first to its last log line (``<timestamp>/<timestamp>.log``),
  validation included.
Without a checkpoint the model is timed with random weights (speed and memory do not depend on them).
The measuring is :mod:`convnext_dense.analysis`.
"""

import argparse
import os.path as osp
import sys

from convnext_dense import analysis
from convnext_dense.apis.cli import run_cli
from convnext_dense.errors import ConfigError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='*', help='trained-model report: config files (see above)')
    new = parser.add_argument_group('backbones and whole models (convnext_dense.analysis)')
    new.add_argument(
        '--models',
        nargs='+',
        default=None,
        help='convnext, convnext-fused, convnext-ref, timm, swin, config:PATH (default with --scaling: '
        'convnext timm swin); a backbone ending in :nchw or :cl has that layout whatever '
        '--channels-last says',
    )
    new.add_argument('--depths', type=int, nargs='+', default=None, help='ConvNeXt depths (default ConvNeXt-T)')
    new.add_argument('--dims', type=int, nargs='+', default=None, help='ConvNeXt widths (default ConvNeXt-T)')
    new.add_argument('--batch', type=int, default=8, help='inference and training batch (default: %(default)s)')
    new.add_argument('--size', type=int, nargs=2, default=(224, 224), metavar=('H', 'W'))
    new.add_argument(
        '--dtypes',
        nargs='+',
        default=['fp32'],
        choices=['fp32', 'bf16', 'fp16', 'all'],
        help="autocast dtypes; 'all' = those the device supports (default: fp32)",
    )
    new.add_argument(
        '--channels-last',
        nargs='+',
        default=['on'],
        choices=['on', 'off'],
        help='memory format(s) to time (default: on, what the configs use)',
    )
    new.add_argument('--compile', nargs='+', default=['off'], choices=['on', 'off'], help='torch.compile off/on')
    new.add_argument(
        '--runtimes',
        nargs='+',
        default=['pytorch'],
        choices=['pytorch', 'onnxruntime'],
        help='onnxruntime: also each model exported to ONNX (convnext_dense.deploy), same weights and inputs, run '
        "in onnxruntime with torch's thread count (CPU; CUDA / TensorRT providers with --device cuda)",
    )
    new.add_argument('--tasks', nargs='+', default=['infer', 'latency', 'train'], choices=['infer', 'latency', 'train'])
    new.add_argument('--rounds', type=int, default=5, help='interleaved timed rounds (default: %(default)s)')
    new.add_argument('--no-memory', action='store_true', help='skip the peak-memory subprocesses')
    new.add_argument(
        '--baseline',
        type=int,
        default=0,
        help="the 'x baseline' columns are relative to this variant (0 = the first; default: 0)",
    )
    new.add_argument(
        '--profile',
        action='store_true',
        help='also print (and add to PREFIX.md) torch.profiler top-operator tables per variant, task',
    )
    new.add_argument('--scaling', action='store_true', help='images/s and memory vs input size and batch size')
    new.add_argument('--scaling-sizes', type=int, nargs='+', default=[224, 384, 512, 768, 1024])
    new.add_argument('--scaling-batches', type=int, nargs='+', default=[1, 2, 4, 8, 16])
    parser.add_argument(
        '--checkpoints',
        nargs='+',
        default=None,
        help="one per config: a .pth, 'latest' (the work dir's last_checkpoint) or 'none'",
    )
    parser.add_argument(
        '--work-dirs',
        nargs='+',
        default=None,
        help='one per config: where it was trained (default work_dirs/<config name>)',
    )
    parser.add_argument('--names', nargs='+', default=None, help='row titles (default: config names)')
    parser.add_argument(
        '--num-images', type=int, default=50, help='timed images = interleaved rounds (default: %(default)s)'
    )
    parser.add_argument(
        '--warmup',
        type=int,
        default=None,
        help='untimed calls first (default: 5 images for trained configs, 2 calls per variant)',
    )
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda' (default: %(default)s)")
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch default)')
    parser.add_argument(
        '--out',
        default=None,
        help='trained-model report: write the markdown table here; '
        'backbones/whole models: PREFIX for PREFIX.md, PREFIX.json, PREFIX.png',
    )
    args = parser.parse_args(argv)
    if not args.configs and not args.models and not args.scaling:
        parser.error('give --models (backbones, config:PATH), --scaling, or trained configs (positional)')
    if args.configs and (args.models or args.scaling):
        parser.error('positional configs (trained-model report) and --models/--scaling are separate modes')
    for name in ('checkpoints', 'work_dirs', 'names'):
        values = getattr(args, name)
        if values is not None and len(values) != len(args.configs):
            parser.error(
                f'--{name.replace("_", "-")} takes one value per config: got {len(values)} for '
                f'{len(args.configs)} configs'
            )
    return args


def tiny_arch(args):
    """``dict(depths, dims)`` from --depths/--dims, or None (ConvNeXt-T)."""
    if not (args.depths or args.dims):
        return None
    if not (args.depths and args.dims) or len(args.depths) != len(args.dims):
        raise ConfigError(f'--depths {args.depths} and --dims {args.dims} must both be given, of equal length')
    return dict(depths=args.depths, dims=args.dims)


def scaling(args, command):
    result = analysis.scaling(
        args.models or ['convnext', 'timm', 'swin'],
        args.scaling_sizes,
        args.scaling_batches,
        args.device,
        rounds=args.rounds,
        warmup=args.warmup,
        memory=not args.no_memory,
        arch=tiny_arch(args),
    )
    result['meta']['command'] = command
    if args.out:
        print('\n'.join(analysis.save_scaling(result, args.out)))
    return result


def compare(args, command):
    """Backbones / whole models in every requested mode."""
    dtypes = analysis.supported_dtypes(args.device) if 'all' in args.dtypes else args.dtypes
    specs = analysis.variant_specs(
        args.models,
        dtypes,
        [c == 'on' for c in args.channels_last],
        [c == 'on' for c in args.compile],
        args.device,
        args.batch,
        args.size,
        tiny_arch(args),
        args.runtimes,
    )
    if not 0 <= args.baseline < len(specs):
        raise ConfigError(f'--baseline {args.baseline}: there are {len(specs)} variants (0..{len(specs) - 1})')
    result = analysis.run(
        specs,
        rounds=args.rounds,
        warmup=args.warmup,
        tasks=args.tasks,
        memory=not args.no_memory,
        baseline=args.baseline,
    )
    result['meta']['command'] = command
    table = analysis.markdown(result, command)
    if args.profile:
        for spec in specs:
            for task in args.tasks:
                if task != 'latency':
                    table += '\n\n```\n' + analysis.profile_table(spec, task) + '```'
    print(table)
    if args.out:
        analysis.save(result, args.out, table)
    return result


def trained(args, command):
    """Trained configs on their test sets, interleaved image by image, with their logs' accuracy and time."""
    names = args.names or [osp.splitext(osp.basename(c))[0] for c in args.configs]
    work_dirs = args.work_dirs or [osp.join('work_dirs', name) for name in names]
    specs = []
    for i, config in enumerate(args.configs):
        choice = args.checkpoints[i] if args.checkpoints else 'none'
        checkpoint = (
            analysis.latest_checkpoint(work_dirs[i]) if choice == 'latest' else None if choice == 'none' else choice
        )
        specs.append(analysis.trained_spec(config, checkpoint, args.num_images, args.warmup, args.device))
    result = analysis.run(
        specs, rounds=args.num_images, warmup=args.warmup, tasks=('infer',), memory=not args.no_memory
    )
    result['meta']['command'] = command
    rows = analysis.trained_rows(result, names, work_dirs)
    for row in rows:
        print(', '.join(f'{k}={v:.2f}' if isinstance(v, float) else f'{k}={v}' for k, v in row.items()), flush=True)
    table = analysis.trained_markdown(result, rows, command)
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')
    return dict(result, table=rows)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    command = 'python tools/benchmark.py ' + ' '.join(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.configs:
        args.warmup = 5 if args.warmup is None else args.warmup
        return trained(args, command)
    args.warmup = 2 if args.warmup is None else args.warmup
    return scaling(args, command) if args.scaling else compare(args, command)


if __name__ == '__main__':
    sys.exit(run_cli(main))
