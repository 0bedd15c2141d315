"""The whole GPU check in one call, sized for a short lease on a GPU machine (``make gpu-check``).

    python3 tools/gpu_check.py --kit kits/gpu-py312-sm90 --out work_dirs/gpu_check    # a clean GPU machine
    python3 tools/gpu_check.py --no-install --out work_dirs/gpu_check                 # the environment is ready

Parts, each under its own time guard (and all under ``--budget`` seconds, 8 minutes by default):

1. ``install``: ``bash tools/setup_env.sh --wheelhouse KIT`` (no network; reuses the machine's torch);
2. ``imports``: the stack imports, and what it runs on (torch, CUDA, GPU, mmcv's compiled CUDA version);
3. ``test-gpu``: ``pytest -m cuda tests/test_gpu`` (mmcv's CUDA RoIAlign/NMS against torchvision's, each demo
   trained a few iterations with AMP and evaluated);
4. ``bench-backbone``: ConvNeXt-T (ours) vs timm's and Swin-T at 224, batch 64 and 256, fp32/bf16/fp16,
   channels-last, compiled and eager: images/s and peak memory;
5. ``bench-cascade``: Cascade Mask R-CNN ConvNeXt-T vs Swin-T at 1280x800 (the paper: 13.5 vs 12.2 FPS on an
   A100);
6. ``bench-upernet``: UperNet ConvNeXt-T at 2048x512, sliding-window inference.

Writes ``OUT/gpu_check.md`` (one report: what ran, what was skipped and why, the benchmark tables) and
``OUT/gpu_check.json``. Without a GPU it runs the parts a CPU can (install, imports) and marks the GPU
parts skipped. Exit code 0 when nothing failed (skipped parts are not failures).

Only the standard library is used here: part 1 runs before the environment exists.
"""

import argparse
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# seconds: each part's own guard; the run's --budget caps their sum
GUARDS = {'install': 150, 'imports': 60, 'test-gpu': 150, 'bench-backbone': 150, 'bench-cascade': 75,
          'bench-upernet': 60}  # fmt: skip
IMPORTS = r"""
import json, torch, mmcv, mmcv.ops, mmdet, mmseg, mmengine, timm, numpy, convnext_dense
from mmcv.ops import get_compiling_cuda_version
info = dict(torch=torch.__version__, cuda_runtime=torch.version.cuda, numpy=numpy.__version__, mmcv=mmcv.__version__,
            mmcv_cuda=get_compiling_cuda_version(), mmdet=mmdet.__version__, mmseg=mmseg.__version__,
            mmengine=mmengine.__version__, timm=timm.__version__, cuda_available=torch.cuda.is_available())
if info['cuda_available']:
    info.update(gpu=torch.cuda.get_device_name(0), capability='.'.join(map(str, torch.cuda.get_device_capability(0))),
                gpus=torch.cuda.device_count())
print(json.dumps(info))
"""


def bench_commands(out: str) -> dict:
    """The benchmark parts' commands (tools/benchmark.py); each writes OUT/<part>*.md/.json/.png."""
    bench = [osp.join(ROOT, '.venv', 'bin', 'python'), 'tools/benchmark.py', '--device', 'cuda']
    det = ['config:configs/detection/cascade_convnext_t_3x.py', 'config:configs/detection/cascade_swin_t_3x.py']
    return {
        'bench-backbone': [
            bench + ['--models', 'convnext', 'timm', 'swin', '--batch', '64', '--size', '224', '224',
                     '--dtypes', 'fp32', 'bf16', 'fp16', '--channels-last', 'on', 'off', '--compile', 'off',
                     '--rounds', '3', '--out', osp.join(out, 'bench_backbone_b64')],
            bench + ['--models', 'convnext', 'timm', '--batch', '256', '--size', '224', '224', '--dtypes', 'bf16',
                     '--compile', 'off', 'on', '--rounds', '3', '--out', osp.join(out, 'bench_backbone_b256')],
        ],
        'bench-cascade': [
            bench + ['--models', *det, '--size', '800', '1280', '--batch', '1', '--tasks', 'infer', '--dtypes', 'fp32',
                     'fp16', '--rounds', '3', '--warmup', '2', '--out', osp.join(out, 'bench_cascade_1280x800')],
        ],
        'bench-upernet': [
            bench + ['--models', 'config:configs/segmentation/upernet_convnext_t_512_160k_ade20k.py', '--size', '512',
                     '2048', '--batch', '1', '--tasks', 'infer', '--dtypes', 'fp32', 'fp16', '--rounds', '3',
                     '--warmup', '1', '--out', osp.join(out, 'bench_upernet_2048x512')],
        ],
    }  # fmt: skip


def run_part(name: str, commands, guard: float, log) -> dict:
    """Run a part's commands in turn within ``guard`` seconds; its status, time and the tail of its output."""
    start = time.time()
    outputs = []
    for cmd in commands:
        left = guard - (time.time() - start)
        if left <= 1:
            return dict(status='timed out', seconds=time.time() - start, output='\n'.join(outputs)[-4000:])
        log(f'[{name}] ' + ' '.join('<script>' if '\n' in a else a for a in cmd))
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=left)
        except subprocess.TimeoutExpired as e:
            outputs.append(_text(e.stdout) + _text(e.stderr))
            return dict(status='timed out', seconds=time.time() - start, output='\n'.join(outputs)[-4000:])
        outputs.append(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            return dict(
                status=f'failed (exit {proc.returncode})',
                seconds=time.time() - start,
                output='\n'.join(outputs)[-4000:],
            )
    return dict(status='ok', seconds=time.time() - start, output='\n'.join(outputs)[-4000:])


def _text(value) -> str:
    return value.decode(errors='replace') if isinstance(value, bytes) else (value or '')


def check(kit: str, out: str, install: bool, budget: float, log=print) -> dict:
    """Run the parts; return the report dict (also written as OUT/gpu_check.json and .md)."""
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    parts = {}
    venv_python = osp.join(ROOT, '.venv', 'bin', 'python')

    def guard(name):
        return max(0.0, min(GUARDS[name], budget - (time.time() - t0)))

    def run(name, commands):
        if guard(name) <= 1:
            return dict(status='skipped', why=f'the budget of {budget:.0f} s was spent before this part')
        return run_part(name, commands, guard(name), log)

    if not install:
        parts['install'] = dict(status='skipped', why='--no-install: the environment in .venv is used as it is')
    elif not kit:
        parts['install'] = dict(status='skipped', why='no --kit given: run make setup (online) or pass --kit DIR')
    else:
        parts['install'] = run('install', [['bash', 'tools/setup_env.sh', '--wheelhouse', kit]])
    env = {}
    if parts['install']['status'] in ('ok', 'skipped') and osp.exists(venv_python):
        parts['imports'] = run('imports', [[venv_python, '-c', IMPORTS]])
        if parts['imports']['status'] == 'ok':
            env = json.loads(parts['imports']['output'].strip().splitlines()[-1])
    else:
        parts['imports'] = dict(status='skipped', why='no environment: the install did not finish')
    gpu = bool(env.get('cuda_available'))
    no_gpu = 'no CUDA GPU is visible (torch.cuda.is_available() is False)' if env else 'the environment does not import'
    if gpu:
        junit = f'--junitxml={osp.join(out, "test_gpu.xml")}'
        parts['test-gpu'] = run(
            'test-gpu',
            [
                [
                    venv_python,
                    '-m',
                    'pytest',
                    '-m',
                    'cuda',
                    '-q',
                    '-rs',
                    'tests/test_gpu',
                    '-p',
                    'no:cacheprovider',
                    junit,
                ]
            ],
        )
    else:
        parts['test-gpu'] = dict(status='skipped', why=no_gpu)
    for name, commands in bench_commands(out).items():
        parts[name] = run(name, commands) if gpu else dict(status='skipped', why=no_gpu)
    report = dict(
        date=time.strftime('%Y-%m-%d %H:%M:%S'),
        host=platform.node(),
        seconds=time.time() - t0,
        budget=budget,
        environment=env,
        parts=parts,
    )
    with open(osp.join(out, 'gpu_check.json'), 'w') as f:
        json.dump(report, f, indent=1)
    with open(osp.join(out, 'gpu_check.md'), 'w') as f:
        f.write(markdown(report, out))
    return report


def markdown(report: dict, out: str) -> str:
    env = report['environment']
    lines = [f'# GPU check, {report["date"]}', '']
    if env:
        where = env.get('gpu', 'no GPU') + (f' (sm {env["capability"]}, {env["gpus"]} visible)' if 'gpu' in env else '')
        lines += [
            f'{where}; torch {env["torch"]} (CUDA {env["cuda_runtime"]}), mmcv {env["mmcv"]} (compiled CUDA: '
            f'{env["mmcv_cuda"]}), mmdet {env["mmdet"]}, mmseg {env["mmseg"]}, mmengine {env["mmengine"]}, '
            f'timm {env["timm"]}, numpy {env["numpy"]}.',
            '',
        ]
    lines += [
        f'Total {report["seconds"]:.0f} s of a {report["budget"]:.0f} s budget.',
        '',
        '| part | status | seconds | note |',
        '|---|---|---|---|',
    ]
    for name, part in report['parts'].items():
        seconds = f'{part["seconds"]:.0f}' if 'seconds' in part else '-'
        lines.append(f'| {name} | {part["status"]} | {seconds} | {part.get("why", "")} |')
    for name in ('bench_backbone_b64', 'bench_backbone_b256', 'bench_cascade_1280x800', 'bench_upernet_2048x512'):
        path = osp.join(out, name + '.md')
        if osp.isfile(path):
            with open(path) as f:
                lines += ['', f'## {name}', '', f.read().strip()]
    failed = [n for n, p in report['parts'].items() if p['status'] not in ('ok', 'skipped')]
    for name in failed:
        lines += [
            '',
            f'## {name}: {report["parts"][name]["status"]}',
            '',
            '```',
            report['parts'][name].get('output', '').strip()[-3000:],
            '```',
        ]
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--kit', default='', help='wheelhouse to install from (tools/make_wheelhouse.py)')
    parser.add_argument('--no-install', action='store_true', help='use .venv as it is')
    parser.add_argument('--out', default='work_dirs/gpu_check', help='report folder (default: %(default)s)')
    parser.add_argument('--budget', type=float, default=480, help='seconds for everything (default: %(default)s)')
    args = parser.parse_args(argv)
    if args.kit and not osp.isdir(args.kit):
        print(
            f'error: --kit {args.kit!r} is not a folder; make one with python tools/make_wheelhouse.py build '
            f'--python 3.12 --cuda-arch 9.0 --kit gpu-minimal --out {args.kit}',
            file=sys.stderr,
        )
        return 2
    report = check(osp.abspath(args.kit) if args.kit else '', osp.abspath(args.out), not args.no_install,
                   args.budget)  # fmt: skip
    for name, part in report['parts'].items():
        print(f'{name:15} {part["status"]:20} {part.get("why", "")}')
    print(f'report: {osp.join(args.out, "gpu_check.md")}')
    return 1 if any(p['status'] not in ('ok', 'skipped') for p in report['parts'].values()) else 0


if __name__ == '__main__':
    sys.exit(main())
