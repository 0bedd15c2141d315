"""tools/build_mmcv.sh's choice of CUDA headers, on a stand-in machine: an ``nvcc`` that is a script reporting
CUDA 13.0 and its install root, and a ``python`` that is a script answering the build script's questions (torch
13.0, where torch's nvidia wheels are). The wheel is already cached, so nothing is compiled: the script stops after
its checks, which is what these tests look at."""

import os
import os.path as osp
import stat
import subprocess

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HEADERS = ('cublas_v2.h', 'cublasLt.h', 'cusparse.h', 'cusolverDn.h')


def _script(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def machine(tmp_path):
    """(run, cuda_root, wheel_include): ``run()`` calls the script with the stand-ins; both folders start empty."""
    cuda, wheels, bin_dir, cache = (tmp_path / n for n in ('cuda', 'site/nvidia', 'bin', 'cache'))
    for folder in (cuda / 'bin', cuda / 'include', wheels / 'cu13' / 'include', bin_dir):
        folder.mkdir(parents=True)
    _script(
        bin_dir / 'nvcc',
        '#!/bin/bash\n'
        f'if [[ "$1" == --dryrun ]]; then echo "#$ TOP={cuda}" >&2; exit 0; fi\n'
        'echo "Cuda compilation tools, release 13.0, V13.0.88"\n',
    )
    _script(cuda / 'bin' / 'nvcc', '#!/bin/bash\nexit 0\n')
    _script(
        tmp_path / 'python',
        '#!/bin/bash\n'
        'if [[ "$1" == -m ]]; then exit 0; fi\n'  # pip install: nothing to do here
        'case "$2" in\n'
        '  *torch.__version__,*) echo "2.11.0+cu130 312 13.0" ;;\n'
        f'  *"import nvidia"*) echo "{wheels}/cu13/include" ;;\n'
        'esac\n',
    )
    cached = cache / 'wheels' / 'mmcv-2.1.0-torch2.11.0+cu130-py312-cuda-ops-sm90'
    cached.mkdir(parents=True)
    (cached / 'mmcv-2.1.0-cp312-cp312-linux_x86_64.whl').write_bytes(b'')
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}', CONVNEXT_DENSE_CACHE=str(cache))
    env.pop('CUDA_HOME', None)
    env.pop('CPATH', None)

    def run():
        cmd = ['bash', osp.join(ROOT, 'tools', 'build_mmcv.sh'), '--python', str(tmp_path / 'python')]
        return subprocess.run(cmd + ['--cuda-arch', '9.0'], env=env, capture_output=True, text=True, timeout=60)

    return run, cuda / 'include', wheels / 'cu13' / 'include'


def test_a_full_system_toolkit_is_used_as_it_is(machine):
    run, cuda_include, _ = machine
    for header in HEADERS:
        (cuda_include / header).write_text('')
    out = run()
    assert out.returncode == 0, out.stderr
    assert "CUDA 13.0 = torch's CUDA" in out.stderr and 'CPATH' not in out.stderr and 'cached:' in out.stderr


def test_missing_math_headers_come_from_torchs_nvidia_wheels(machine):
    """The system root has only the compiler (as on this project's machines): the headers torch's ATen/cuda
    includes are taken from torch's own nvidia wheels instead of failing tens of minutes into the build."""
    run, cuda_include, wheel_include = machine
    (cuda_include / 'cublas_v2.h').write_text('')
    for header in HEADERS:
        (wheel_include / header).write_text('')
    out = run()
    assert out.returncode == 0, out.stderr
    assert f"has no cublasLt.h cusparse.h cusolverDn.h: taken from torch's nvidia wheels ({wheel_include}" in out.stderr


def test_headers_found_nowhere_stop_before_compiling(machine):
    run, _, wheel_include = machine
    (wheel_include / 'cublas_v2.h').write_text('')
    (wheel_include / 'cublasLt.h').write_text('')
    out = run()
    assert out.returncode == 2
    assert 'has no cusparse.h cusolverDn.h' in out.stderr and '--toolkit pypi' in out.stderr
    assert 'compiling' not in out.stderr and 'cached:' not in out.stderr
