"""tools/setup_env.sh and the import-time check: another mmcv in the environment is named with the fix first."""

import os
import os.path as osp
import subprocess
import sys

import pytest

from convnext_dense.version import check_mmcv

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def venv_with(tmp_path, name, version):
    """A bare venv (no pip: a second) whose site-packages holds the metadata of ``name==version``."""
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    code = 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
    site = subprocess.run([str(venv / 'bin' / 'python'), '-c', code], capture_output=True, text=True, check=True)
    site = site.stdout.strip()
    info = osp.join(site, f'{name.replace("-", "_")}-{version}.dist-info')
    os.makedirs(info)
    with open(osp.join(info, 'METADATA'), 'w') as f:
        f.write(f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n')
    return str(venv)


def setup_env(venv, *args):
    env = dict(os.environ, VENV=venv, PIP_NO_INDEX='1')  # nothing may be downloaded here
    env.pop('TORCH_CUDA_ARCH_LIST', None)
    return subprocess.run(['bash', 'tools/setup_env.sh', *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_mmcv_full_stops_the_setup_with_the_command(tmp_path):
    venv = venv_with(tmp_path, 'mmcv-full', '1.7.2')
    proc = setup_env(venv)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f'error: mmcv-full==1.7.2 at {venv}')
    assert 'convnext_dense needs mmcv==2.1.0' in proc.stderr
    assert f'{venv}/bin/python -m pip uninstall -y mmcv-full mmcv' in proc.stderr
    assert '[setup +' not in proc.stdout  # stopped before it installed anything


def test_another_mmcv_2_is_named_and_replaced(tmp_path):
    venv = venv_with(tmp_path, 'mmcv', '2.2.0')
    proc = setup_env(venv, '--wheelhouse', str(tmp_path))  # an empty folder: stops right after the check
    assert f'[setup] found mmcv==2.2.0 at {venv}' in proc.stdout, proc.stdout + proc.stderr
    assert 'convnext_dense needs mmcv==2.1.0' in proc.stdout and 'it is replaced below' in proc.stdout
    assert proc.returncode == 2 and 'is not a wheelhouse (no MANIFEST.json)' in proc.stderr


@pytest.mark.parametrize(
    'installed, message',
    [
        ({'mmcv-full': '1.7.2'}, r'mmcv-full 1\.7\.2 \(OpenMMLab 1\.x\) is installed.*pip uninstall -y mmcv-full mmcv'),
        ({'mmcv': '2.2.0'}, r'mmcv 2\.2\.0 is installed; convnext_dense needs mmcv 2\.1\.0.*pip uninstall -y mmcv'),
        ({'mmcv': '1.7.0'}, r'mmcv 1\.7\.0 is installed'),
        ({}, r'mmcv is not installed.*make setup builds mmcv 2\.1\.0'),
    ],
)
def test_import_time_check_names_the_version_and_the_fix(installed, message):
    with pytest.raises(ImportError, match=message):
        check_mmcv(lambda name: installed[name])


def test_import_time_check_accepts_the_supported_range():
    assert check_mmcv(lambda name: {'mmcv': '2.1.0'}[name]) == '2.1.0'
    assert check_mmcv(lambda name: {'mmcv': '2.0.1'}[name]) == '2.0.1'
