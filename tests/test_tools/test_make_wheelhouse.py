"""tools/make_wheelhouse.py: the manifest that lets setup_env.sh --wheelhouse refuse a kit that cannot serve."""

import importlib.util
import json
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location('make_wheelhouse', osp.join(ROOT, 'tools', 'make_wheelhouse.py'))
mw = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mw)


@pytest.fixture
def kit(tmp_path):
    """A wheelhouse of two small wheels for Python 3.12 with CUDA ops for sm 9.0, and its manifest."""
    folder = tmp_path / 'kit'
    folder.mkdir()
    wheels = []
    for name in ('mmcv-2.1.0-cp312-cp312-linux_x86_64.whl', 'addict-2.4.0-py3-none-any.whl'):
        (folder / name).write_bytes(name.encode() * 100)
        path = str(folder / name)
        wheels.append(dict(file=name, **mw.wheel_info(name), bytes=osp.getsize(path), sha256=mw.sha256(path)))
    manifest = dict(python='3.12', kit='gpu-minimal', ops='cuda', cuda_arch='9.0', torch='2.11.0+cu130', wheels=wheels)
    mw._write_manifest(str(folder), manifest)
    return folder


def test_a_good_kit_verifies_and_lists_its_wheels(kit):
    assert mw.verify(str(kit), ops='cuda:9.0', python='3.12')['kit'] == 'gpu-minimal'
    assert mw.verify(str(kit), ops='', python='3.12')  # CUDA ops serve a machine without GPU too
    assert [osp.basename(p) for p in mw.listing(str(kit), exclude={'mmcv'})] == ['addict-2.4.0-py3-none-any.whl']
    assert [osp.basename(p) for p in mw.listing(str(kit), only={'mmcv'})] == ['mmcv-2.1.0-cp312-cp312-linux_x86_64.whl']
    lines = (kit / 'SHA256SUMS').read_text().splitlines()
    assert len(lines) == 2 and all(len(line.split()[0]) == 64 for line in lines)


def test_a_damaged_or_incomplete_copy_is_refused(kit):
    (kit / 'addict-2.4.0-py3-none-any.whl').write_bytes(b'damaged')
    with pytest.raises(mw.KitError, match='does not match its SHA-256 in the manifest: the copy is damaged'):
        mw.verify(str(kit), python='3.12')
    (kit / 'addict-2.4.0-py3-none-any.whl').unlink()
    with pytest.raises(mw.KitError, match='missing: copy the whole wheelhouse again'):
        mw.verify(str(kit), python='3.12')


def test_another_python_or_gpu_arch_is_refused_with_the_command(kit):
    with pytest.raises(mw.KitError, match=r'made for Python 3\.12; this is Python 3\.11.*build --python 3\.11'):
        mw.verify(str(kit), python='3.11')
    with pytest.raises(
        mw.KitError,
        match=r'GPUs of arch 8\.0, but the wheelhouse mmcv has CUDA ops for 9\.0.*' r'--cuda-arch "8\.0;9\.0"',
    ):
        mw.verify(str(kit), ops='cuda:8.0', python='3.12')
    manifest = json.loads((kit / 'MANIFEST.json').read_text())
    mw._write_manifest(str(kit), dict(manifest, ops='cpu', cuda_arch=''))
    with pytest.raises(mw.KitError, match='has CPU ops only: RoIAlign and NMS would fail on CUDA tensors'):
        mw.verify(str(kit), ops='cuda:9.0', python='3.12')


def test_a_folder_without_manifest_says_how_to_make_one(tmp_path):
    with pytest.raises(mw.KitError, match=r'is not a wheelhouse \(no MANIFEST.json\); make one with'):
        mw.verify(str(tmp_path), python='3.12')
    assert mw.main(['verify', str(tmp_path)]) == 2


def test_the_command_line_prints_one_path_a_line(kit, capsys):
    assert mw.main(['list', str(kit), '--except', 'mmcv']) == 0
    assert capsys.readouterr().out.strip() == str(kit / 'addict-2.4.0-py3-none-any.whl')


def test_wheel_names_are_parsed_as_pip_names():
    assert mw.wheel_info('opencv_python-4.10.0.84-cp37-abi3-manylinux_2_17_x86_64.whl') == dict(
        name='opencv-python', version='4.10.0.84', python='cp37'
    )
    with pytest.raises(mw.KitError, match='is not a wheel file name'):
        mw.wheel_info('mmcv-2.1.0.tar.gz')
