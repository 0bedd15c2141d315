"""tools/gpu_check.py without a GPU: the parts a CPU can run run, the GPU parts are skipped with the reason."""

import json
import os.path as osp
import subprocess
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_without_a_gpu_the_gpu_parts_are_skipped_and_said_so(tmp_path):
    if torch.cuda.is_available():  # on a GPU machine this would run the whole check: that is make gpu-check
        return
    out = tmp_path / 'report'
    proc = subprocess.run([sys.executable, 'tools/gpu_check.py', '--no-install', '--out', str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / 'gpu_check.json').read_text())
    parts = report['parts']
    assert parts['install']['status'] == 'skipped' and '--no-install' in parts['install']['why']
    assert parts['imports']['status'] == 'ok' and report['environment']['cuda_available'] is False
    assert report['environment']['mmcv'] == '2.1.0'
    for name in ('test-gpu', 'bench-backbone', 'bench-cascade', 'bench-upernet'):
        assert parts[name] == dict(status='skipped', why='no CUDA GPU is visible (torch.cuda.is_available() is False)')
    text = (out / 'gpu_check.md').read_text()
    assert '| bench-cascade | skipped | - | no CUDA GPU is visible' in text and 'mmcv 2.1.0' in text


def test_the_benchmark_commands_of_the_gpu_parts_are_valid_for_tools_benchmark(tmp_path):
    """The GPU parts never run here: their command lines are at least parsed by tools/benchmark.py's own parser."""
    import importlib.util

    def load(name):
        spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, 'tools', f'{name}.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    gpu_check, benchmark = load('gpu_check'), load('benchmark')
    commands = gpu_check.bench_commands(str(tmp_path))
    assert sorted(commands) == ['bench-backbone', 'bench-cascade', 'bench-upernet']
    for part, argvs in commands.items():
        for argv in argvs:
            assert argv[1] == 'tools/benchmark.py'
            args = benchmark.parse_args(argv[2:])
            assert args.device == 'cuda' and args.out.startswith(str(tmp_path)), (part, argv)
            for entry in args.models or []:
                if entry.startswith('config:'):
                    assert osp.isfile(osp.join(ROOT, entry[len('config:') :])), entry
