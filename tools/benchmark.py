"""The one benchmark command: backbones and whole models, fairly timed; or trained models from their logs.

Backbones and whole models (``convnext_dense/benchmark.py`` does the measuring; interleaved rounds in one
process, median and spread, equal-output check, GFLOPs, params, peak memory; writes markdown, JSON, PNG):

    python tools/benchmark.py --models timm:nchw timm convnext convnext-fused swin --batch 8 --size 224 224 --out b
    python tools/benchmark.py --models timm convnext --compile off on --channels-last off on --dtypes fp32 bf16
    python tools/benchmark.py --models config:configs/detection/cascade_convnext_t_3x.py \
        config:configs/detection/cascade_swin_t_3x.py --size 800 1280 --batch 1 --rounds 2 --warmup 1
    python tools/benchmark.py --scaling --models convnext timm swin --out docs/scaling   # PNGs vs size, batch
    python tools/benchmark.py --models convnext timm --depths 1 1 1 1 --dims 8 16 32 64   # a tiny model

Trained models (positional configs): accuracy and train time from their logs, plus parameters,
inference speed and peak memory measured here, written as one markdown table:

    python tools/benchmark.py configs/detection/demo/cascade_convnext_demo.py \
        configs/detection/demo/cascade_swin_demo.py \
        --work-dirs work_dirs/cascade_convnext_demo work_dirs/cascade_swin_demo --checkpoints latest latest \
        --num-images 50 --out work_dirs/benchmark_detection.md

Per config, in a fresh subprocess (so that peak memory is that model's alone):
* parameters: all parameters of the built model;
* speed: images/s of ``model.test_step`` (data preprocessing + forward + post-processing, batch 1) on
  the first ``--num-images`` images of the config's test set, after ``--warmup`` untimed images;
  loading and decoding the image files is done beforehand and not timed;
* memory: peak resident set size of the process (CPU) and ``torch.cuda.max_memory_allocated`` (GPU);
* accuracy: the last evaluation in the work dir's newest run (``<timestamp>/vis_data/scalars.json``):
  COCO box / mask mAP for mmdet configs, mIoU / aAcc for mmseg configs;
* train time: wall time of that run, from its first to its last log line (``<timestamp>/<timestamp>.log``),
  validation included.
Without a checkpoint the model is timed with random weights (speed and memory do not depend on them).
"""

import argparse
import glob
import json
import os.path as osp
import re
import resource
import subprocess
import sys
import time
from datetime import datetime
from typing import Dict, List, Optional

# Metrics read from scalars.json per default scope: (key in the log, column title, scale to percent).
METRICS = {
    'mmdet': [
        ('coco/bbox_mAP', 'box AP', 100.0),
        ('coco/segm_mAP', 'mask AP', 100.0),
        ('coco/bbox_mAP_50', 'box AP50', 100.0),
    ],
    'mmseg': [('mIoU', 'mIoU', 1.0), ('aAcc', 'aAcc', 1.0)],
}
_LOG_TIME = re.compile(r'^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='*', help='trained-model report: config files (see above)')
    new = parser.add_argument_group('backbones and whole models (convnext_dense/benchmark.py)')
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
        help="one per config: a .pth, 'latest' (newest .pth in its work dir) or 'none'",
    )
    parser.add_argument(
        '--work-dirs',
        nargs='+',
        default=None,
        help='one per config: where it was trained (default work_dirs/<config name>)',
    )
    parser.add_argument('--names', nargs='+', default=None, help='row titles (default: config names)')
    parser.add_argument('--num-images', type=int, default=50, help='timed images (default: %(default)s)')
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
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
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


# ----------------------------------------------------------------------------------------------- logs
def newest_run(work_dir: str) -> Optional[str]:
    """The newest ``<work_dir>/<timestamp>/`` folder that has a log, or ``None``."""
    runs = sorted(d for d in glob.glob(osp.join(work_dir, '2*_*')) if glob.glob(osp.join(d, '*.log')))
    return runs[-1] if runs else None


def read_run(work_dir: str, scope: str) -> Dict[str, object]:
    """Last evaluation metrics and wall time of the newest run in ``work_dir`` (empty if none)."""
    run = newest_run(work_dir) if work_dir and osp.isdir(work_dir) else None
    if run is None:
        return {}
    result = {'run': run}
    scalars = osp.join(run, 'vis_data', 'scalars.json')
    if osp.isfile(scalars):
        last = {}
        with open(scalars) as f:
            for line in f:
                entry = json.loads(line)
                if any(key in entry for key, _, _ in METRICS.get(scope, [])):
                    last = entry
        for key, title, scale in METRICS.get(scope, []):
            if key in last:
                result[title] = float(last[key]) * scale
    log_file = osp.join(run, osp.basename(run) + '.log')
    if osp.isfile(log_file):
        stamps = []
        with open(log_file) as f:
            for line in f:
                match = _LOG_TIME.match(line)
                if match:
                    stamps.append(match.group(1))
        if len(stamps) >= 2:
            first, last = (datetime.strptime(s, '%Y/%m/%d %H:%M:%S') for s in (stamps[0], stamps[-1]))
            result['train wall time (s)'] = (last - first).total_seconds()
    return result


def find_checkpoint(spec: Optional[str], work_dir: str) -> Optional[str]:
    if spec in (None, 'none'):
        return None
    if spec != 'latest':
        if not osp.isfile(spec):
            raise FileNotFoundError(f'--checkpoints: {spec!r} does not exist')
        return spec
    last = osp.join(work_dir, 'last_checkpoint')  # written by mmengine's CheckpointHook
    if osp.isfile(last):
        with open(last) as f:
            path = f.read().strip()
        if osp.isfile(path):
            return path
    found = sorted(glob.glob(osp.join(work_dir, '*.pth')), key=osp.getmtime)
    if not found:
        raise FileNotFoundError(f"--checkpoints latest: no .pth in {work_dir!r}; train first or pass 'none'")
    return found[-1]


# ------------------------------------------------------------------------------------------- measure
def measure(
    config: str, checkpoint: Optional[str], num_images: int, warmup: int, device: str, threads: Optional[int]
) -> Dict[str, object]:
    """Build the model and the test set of ``config`` and time ``num_images`` single-image predictions."""
    import torch
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import Runner, load_checkpoint

    import convnext_dense  # noqa: F401  (registers ConvNeXt)
    from convnext_dense.apis import load_config

    if threads:
        torch.set_num_threads(threads)
    cfg = load_config(config)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings

        import_modules_from_strings(**cfg.custom_imports)
    if checkpoint is None and cfg.model.get('backbone', {}).get('init_cfg'):
        cfg.model.backbone.init_cfg = None  # random weights: no pretrained file needed to time the model
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    model = model.to(device).eval()
    params = sum(p.numel() for p in model.parameters())

    loader_cfg = dict(cfg.test_dataloader, batch_size=1, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    batches = []
    for batch in loader:  # decode the images before timing
        batches.append(batch)
        if len(batches) == warmup + num_images:
            break
    if len(batches) <= warmup:
        raise ValueError(f'{config}: the test set has {len(batches)} images, fewer than --warmup {warmup} + 1')

    cuda = device.startswith('cuda')
    with torch.no_grad():
        for batch in batches[:warmup]:
            model.test_step(batch)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for batch in batches[warmup:]:
            model.test_step(batch)
        if cuda:
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
    timed = len(batches) - warmup
    result = {
        'params (M)': params / 1e6,
        'images/s': timed / elapsed,
        'timed images': timed,
        'image size (HxW)': 'x'.join(str(s) for s in batches[warmup]['data_samples'][0].ori_shape),
        'peak RSS (MB)': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        'threads': torch.get_num_threads(),
        'scope': cfg.get('default_scope'),
        'checkpoint': checkpoint or 'random init',
    }
    if cuda:
        result['CUDA max allocated (MB)'] = torch.cuda.max_memory_allocated() / 2**20
    return result


def measure_in_subprocess(config: str, checkpoint: Optional[str], args) -> Dict[str, object]:
    cmd = [
        sys.executable,
        osp.abspath(__file__),
        config,
        '--worker',
        '--num-images',
        str(args.num_images),
        '--warmup',
        str(args.warmup),
        '--device',
        args.device,
        '--checkpoints',
        checkpoint or 'none',
    ]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'benchmarking {config} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -------------------------------------------------------------------------------------------- report
def markdown_table(rows: List[Dict[str, object]]) -> str:
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
    for row in rows:
        cells = []
        for key in columns:
            value = row.get(key, '')
            cells.append(f'{value:.2f}' if isinstance(value, float) else str(value))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def compare(args, argv) -> dict:
    """Backbones / whole models in every requested mode, via convnext_dense.benchmark."""
    import torch

    from convnext_dense import benchmark as bm

    if args.threads:
        torch.set_num_threads(args.threads)
    command = 'python tools/benchmark.py ' + ' '.join(argv)
    arch = None
    if args.depths or args.dims:
        if not (args.depths and args.dims) or len(args.depths) != len(args.dims):
            raise ValueError(f'--depths {args.depths} and --dims {args.dims} must both be given, of equal length')
        arch = dict(depths=args.depths, dims=args.dims)
    if args.scaling:
        models = args.models or ['convnext', 'timm', 'swin']
        result = bm.scaling(
            models,
            args.scaling_sizes,
            args.scaling_batches,
            args.device,
            rounds=args.rounds,
            warmup=args.warmup,
            memory=not args.no_memory,
            arch=arch,
        )
        result['meta']['command'] = command
        if args.out:
            with open(args.out + '.json', 'w') as f:
                json.dump(result, f, indent=1)
            print('\n'.join(bm.plot_scaling(result, args.out)))
        return result
    dtypes = bm.supported_dtypes(args.device) if 'all' in args.dtypes else args.dtypes
    specs, names = [], set()
    for entry in args.models:
        model, _, layout = entry.rpartition(':') if entry.endswith((':nchw', ':cl')) else (entry, '', '')
        for dtype in dtypes:
            for cl in [{'nchw': 'off', 'cl': 'on'}[layout]] if layout else args.channels_last:
                for comp in args.compile:
                    spec = dict(
                        model=model,
                        device=args.device,
                        dtype=dtype,
                        batch=args.batch,
                        size=list(args.size),
                        channels_last=cl == 'on' and model != 'convnext-ref',
                        compile=comp == 'on',
                        arch=arch,
                    )
                    key = json.dumps(spec, sort_keys=True)
                    if key not in names:
                        names.add(key)
                        specs.append(spec)
    if not 0 <= args.baseline < len(specs):
        raise ValueError(f'--baseline {args.baseline}: there are {len(specs)} variants (0..{len(specs) - 1})')
    result = bm.run(
        specs,
        rounds=args.rounds,
        warmup=args.warmup,
        tasks=args.tasks,
        memory=not args.no_memory,
        baseline=args.baseline,
    )
    result['meta']['command'] = command
    table = bm.markdown(result, command)
    if args.profile:
        for spec in specs:
            for task in args.tasks:
                if task != 'latency':
                    table += '\n\n```\n' + bm.profile_table(spec, task) + '```'
    print(table)
    if args.out:
        with open(args.out + '.md', 'w') as f:
            f.write(table + '\n')
        with open(args.out + '.json', 'w') as f:
            json.dump(result, f, indent=1)
        bm.plot_bars(result, args.out + '.png')
    return result


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.models or args.scaling:
        args.warmup = 2 if args.warmup is None else args.warmup
        return compare(args, argv)
    args.warmup = 5 if args.warmup is None else args.warmup
    if args.worker:
        checkpoint = None if args.checkpoints[0] == 'none' else args.checkpoints[0]
        print(json.dumps(measure(args.configs[0], checkpoint, args.num_images, args.warmup, args.device, args.threads)))
        return
    rows = []
    for i, config in enumerate(args.configs):
        name = args.names[i] if args.names else osp.splitext(osp.basename(config))[0]
        work_dir = args.work_dirs[i] if args.work_dirs else osp.join('work_dirs', name)
        checkpoint = find_checkpoint(args.checkpoints[i] if args.checkpoints else None, work_dir)
        measured = measure_in_subprocess(config, checkpoint, args)
        logged = read_run(work_dir, measured.pop('scope'))
        row = {'model': name}
        row.update({k: v for k, v in logged.items() if k != 'run'})
        row.update(measured)
        row['run'] = logged.get('run', 'no run found')
        rows.append(row)
        print(
            f'{name}: ' + ', '.join(f'{k}={v:.2f}' if isinstance(v, float) else f'{k}={v}' for k, v in row.items()),
            flush=True,
        )
    table = markdown_table(rows)
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')


if __name__ == '__main__':
    main()
