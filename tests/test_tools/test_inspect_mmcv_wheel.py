"""tools/inspect_mmcv_wheel.py: the GPU archs an mmcv build holds kernels for, read from the file without a GPU."""

import glob
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import zipfile

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location('inspect_mmcv_wheel', osp.join(ROOT, 'tools', 'inspect_mmcv_wheel.py'))
iw = importlib.util.module_from_spec(spec)
spec.loader.exec_module(iw)
CACHE = os.environ.get('CONVNEXT_DENSE_CACHE', osp.expanduser('~/.cache/convnext_dense'))
KERNEL = '__global__ void add(float *a, const float *b) { a[threadIdx.x] += b[threadIdx.x]; }\n'


@pytest.fixture(scope='module')
def fatbin(tmp_path_factory):
    """A fatbinary made by nvcc: machine code for sm_80 and sm_90, and PTX for compute_90."""
    if shutil.which('nvcc') is None:
        pytest.skip("nvcc is not on PATH (NVIDIA's compiler makes the file this test reads)")
    folder = tmp_path_factory.mktemp('fatbin')
    (folder / 'k.cu').write_text(KERNEL)
    gencode = ['-gencode', 'arch=compute_80,code=sm_80', '-gencode', 'arch=compute_90,code=[sm_90,compute_90]']
    subprocess.run(['nvcc', '-fatbin', *gencode, 'k.cu', '-o', 'k.fatbin'], cwd=folder, check=True)
    return str(folder / 'k.fatbin')


def test_nvcc_output_is_read_arch_by_arch(fatbin):
    assert iw.summary(fatbin) == {'8.0': {'elf': 1, 'ptx': 0}, '9.0': {'elf': 1, 'ptx': 1}}
    assert iw.check(fatbin, '8.0;9.0')
    with pytest.raises(iw.InspectError, match=r'no compiled kernels for arch 8\.6 .*--cuda-arch "8\.6"'):
        iw.check(fatbin, '8.6')


def test_a_wheel_without_ops_and_a_file_that_is_not_elf_are_named(tmp_path):
    wheel = tmp_path / 'mmcv-2.1.0-py3-none-any.whl'
    with zipfile.ZipFile(wheel, 'w') as z:
        z.writestr('mmcv/__init__.py', '')
    with pytest.raises(iw.InspectError, match='has no mmcv/_ext.*built without ops'):
        iw.summary(str(wheel))
    (tmp_path / 'x.so').write_bytes(b'not an elf file')
    assert iw.main([str(tmp_path / 'x.so')]) == 2


@pytest.mark.parametrize('kind', ['cpu-ops', 'cuda-ops'])
def test_the_cached_mmcv_wheels_hold_what_their_name_says(kind):
    """The wheels tools/build_mmcv.sh cached on this machine (skipped where none was built)."""
    wheels = glob.glob(osp.join(CACHE, 'wheels', f'mmcv-*-{kind}*', 'mmcv-*.whl'))
    if not wheels:
        pytest.skip(f'no {kind} mmcv wheel in {CACHE}/wheels on this machine')
    for wheel in wheels:
        found = iw.summary(wheel)
        if kind == 'cpu-ops':
            assert found == {}, wheel
        else:
            arch = osp.basename(osp.dirname(wheel)).split('-cuda-ops-sm')[1]  # sm90 or sm80-90
            for sm in arch.split('-'):
                assert found[f'{sm[:-1]}.{sm[-1]}']['elf'] > 0, (wheel, found)
