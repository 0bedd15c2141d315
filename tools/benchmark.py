"""Compare trained detectors or segmentors: accuracy and train time from their logs, plus parameters,
inference speed and peak memory measured here, written as one markdown table.

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
    'mmdet': [('coco/bbox_mAP', 'box AP', 100.), ('coco/segm_mAP', 'mask AP', 100.),
              ('coco/bbox_mAP_50', 'box AP50', 100.)],
    'mmseg': [('mIoU', 'mIoU', 1.), ('aAcc', 'aAcc', 1.)],
}
_LOG_TIME = re.compile(r'^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--checkpoints', nargs='+', default=None,
                        help="one per config: a .pth, 'latest' (newest .pth in its work dir) or 'none'")
    parser.add_argument('--work-dirs', nargs='+', default=None,
                        help='one per config: where it was trained (default work_dirs/<config name>)')
    parser.add_argument('--names', nargs='+', default=None, help='row titles (default: config names)')
    parser.add_argument('--num-images', type=int, default=50, help='timed images (default: %(default)s)')
    parser.add_argument('--warmup', type=int, default=5, help='untimed images first (default: %(default)s)')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda' (default: %(default)s)")
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch default)')
    parser.add_argument('--out', default=None, help='write the markdown table here as well')
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ('checkpoints', 'work_dirs', 'names'):
        values = getattr(args, name)
        if values is not None and len(values) != len(args.configs):
            parser.error(f'--{name.replace("_", "-")} takes one value per config: got {len(values)} for '
                         f'{len(args.configs)} configs')
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
def measure(config: str, checkpoint: Optional[str], num_images: int, warmup: int, device: str,
            threads: Optional[int]) -> Dict[str, object]:
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
    cmd = [sys.executable, osp.abspath(__file__), config, '--worker', '--num-images', str(args.num_images),
           '--warmup', str(args.warmup), '--device', args.device, '--checkpoints', checkpoint or 'none']
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


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        checkpoint = None if args.checkpoints[0] == 'none' else args.checkpoints[0]
        print(json.dumps(measure(args.configs[0], checkpoint, args.num_images, args.warmup, args.device,
                                 args.threads)))
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
        print(f'{name}: ' + ', '.join(f'{k}={v:.2f}' if isinstance(v, float) else f'{k}={v}' for k, v in row.items()),
              flush=True)
    table = markdown_table(rows)
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')


if __name__ == '__main__':
    main()
