"""A folder of wheels (a wheelhouse) that installs convnext_dense's environment with no network, and its manifest.

Made on a machine that reaches PyPI, for a target Python and kind of ops; installed on one that does not
(a GPU cluster's compute node) with ``bash tools/setup_env.sh --wheelhouse DIR``::

    python tools/make_wheelhouse.py build --python 3.11 --out wheelhouse/py311-cpu        # everything, CPU ops
    python tools/make_wheelhouse.py build --python 3.12 --cuda-arch 9.0 --kit gpu-minimal --out kit
    python tools/make_wheelhouse.py verify kit --ops cuda:9.0     # hashes, Python, ops (setup_env.sh runs it)
    python tools/make_wheelhouse.py list kit --except mmcv        # the wheel files, for pip install --no-deps

Kits:

* ``full``: every package of ``requirements.txt`` (torch and its CUDA libraries included: several GB),
  resolved for the target Python, plus pip/setuptools/wheel for the offline venv.
* ``without-torch``: the same without torch, torchvision and their CUDA libraries, for a machine whose
  Python already has the pinned torch (setup_env.sh then reuses it).
* ``gpu-minimal``: what a GPU image with Python, torch, torchvision and timm (and the scientific stack
  usually beside them: numpy 2, opencv-python-headless, scipy, matplotlib, pyyaml, rich, tqdm, pillow,
  pytest) lacks: mmengine, mmcv (compiled), mmdet, mmsegmentation, pycocotools and their small pure-Python
  dependencies. It uses the image's numpy (2.x) and opencv: the numpy-2 set ``docs/gpu.md`` says was
  tested. Tens of MiB, so it can travel with a checkout.

The mmcv wheel comes from ``tools/build_mmcv.sh`` (cached). ``MANIFEST.json`` records the target Python,
the ops (``cpu``, or ``cuda`` with the arch list), the torch version mmcv was compiled against, and each
wheel's name, version, size and SHA-256; ``SHA256SUMS`` is the same for ``sha256sum -c``.

Only the standard library is used here: this runs before any environment exists.
"""

import argparse
import hashlib
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
REQ = osp.join(ROOT, 'requirements.txt')
# What a GPU image with torch lacks (mmcv comes from build_mmcv.sh), each with its pure-Python dependencies
# that such images do not carry. Everything else is taken from the image (see the module docstring).
# regex (compiled) and six: mmseg and mmdet import them when they are imported, and a GPU image need not have them.
GPU_MINIMAL = [
    'mmengine', 'mmdet', 'mmsegmentation', 'pycocotools', 'shapely', 'terminaltables', 'prettytable', 'wcwidth',
    'addict', 'yapf', 'platformdirs', 'termcolor', 'ftfy', 'regex', 'six', 'pip', 'setuptools', 'wheel',
]  # fmt: skip
# Packages the full kit adds beside requirements.txt's: the offline venv needs them to install itself.
BOOTSTRAP = ['pip<25', 'setuptools<70', 'wheel']
_WHEEL_NAME = re.compile(
    r'^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>.+)\.whl$'
)


class KitError(Exception):
    """A wheelhouse that cannot serve this machine; the message says why and what to do."""


def pins() -> dict:
    """``{name: version}`` of requirements.txt (names lower-case, ``_`` as ``-``)."""
    out = {}
    with open(REQ) as f:
        for line in f:
            m = re.match(r'^([A-Za-z0-9_.-]+)==(\S+)', line.strip())
            if m:
                out[norm(m.group(1))] = m.group(2)
    return out


def norm(name: str) -> str:
    return re.sub(r'[-_.]+', '-', name).lower()


def wheel_info(filename: str) -> dict:
    m = _WHEEL_NAME.match(osp.basename(filename))
    if not m:
        raise KitError(f'{filename!r} is not a wheel file name (name-version-python-abi-platform.whl)')
    return dict(name=norm(m.group('name')), version=m.group('version'), python=m.group('py'))


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _log(msg: str) -> None:
    print(f'[wheelhouse] {msg}', file=sys.stderr, flush=True)


def build(python: str, out: str, kit: str = 'full', cuda_arch: str = '') -> dict:
    """Fill ``out`` with the kit's wheels for ``python`` and write the manifest.

    Args:
        python: a version such as '3.12' (a build venv with the pinned torch is made for it, see
            tools/build_mmcv.sh) or the path of an interpreter that has the pinned torch.
        out: an empty folder.
        kit: 'full', 'without-torch' or 'gpu-minimal' (module docstring).
        cuda_arch: CUDA archs for mmcv's ops ('' for CPU ops).
    """
    if osp.exists(osp.join(out, 'MANIFEST.json')):
        raise KitError(f'{out} already holds a wheelhouse; choose an empty folder or delete it first')
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    cmd = ['bash', osp.join(ROOT, 'tools', 'build_mmcv.sh'), '--python', python]
    if cuda_arch:
        cmd += ['--cuda-arch', cuda_arch]
    _log(f'mmcv: {" ".join(cmd)}')
    mmcv_wheel = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
    build_info = _build_info(mmcv_wheel)
    shutil.copy2(mmcv_wheel, out)
    # pip resolves for the interpreter the wheel was built with (a path given, or the build venv's)
    target_py = python if osp.isfile(python) else build_info['python_exe']
    python = subprocess.run([target_py, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], check=True,
                            stdout=subprocess.PIPE, text=True).stdout.strip()  # fmt: skip
    resolved = resolve(target_py)
    if kit == 'full':
        names = sorted(resolved)
    elif kit == 'without-torch':
        names = sorted(n for n in resolved if not _is_torch_part(n))
    elif kit == 'gpu-minimal':
        names = [n for n in GPU_MINIMAL if n in resolved]
    else:
        raise KitError(f'--kit {kit!r}: use full, without-torch or gpu-minimal')
    with tempfile.TemporaryDirectory() as tmp:
        pip_cmd = [target_py, '-m', 'pip', 'wheel', '-q', '--no-deps', '-w', tmp]
        _log(f'{len(names)} packages for Python {python} ({kit}): pip wheel --no-deps')
        subprocess.run(pip_cmd + [f'{n}=={resolved[n]}' for n in names], check=True)
        for name in sorted(os.listdir(tmp)):
            if name.endswith('.whl'):
                shutil.move(osp.join(tmp, name), osp.join(out, name))
    manifest = dict(
        python=python,
        kit=kit,
        ops='cuda' if cuda_arch else 'cpu',
        cuda_arch=cuda_arch,
        torch=build_info['torch'],
        created=time.strftime('%Y-%m-%d %H:%M:%S'),
        wheels=[],
    )
    for name in sorted(os.listdir(out)):
        if name.endswith('.whl'):
            path = osp.join(out, name)
            manifest['wheels'].append(
                dict(file=name, **wheel_info(name), bytes=os.path.getsize(path), sha256=sha256(path))
            )
    manifest['total_bytes'] = sum(w['bytes'] for w in manifest['wheels'])
    _write_manifest(out, manifest)
    _log(
        f'{len(manifest["wheels"])} wheels, {manifest["total_bytes"] / 2**20:.1f} MiB, '
        f'in {time.time() - t0:.0f} s: {out}'
    )
    return manifest


def resolve(target_py: str) -> dict:
    """``{name: version}`` of everything requirements.txt needs on ``target_py`` (pip's resolver, a dry run).

    mmcv is left out (it is compiled by build_mmcv.sh); pip, setuptools<70 and wheel are added (the offline
    venv installs itself with them).
    """
    reqs = [f'{n}=={v}' for n, v in pins().items() if n != 'mmcv'] + BOOTSTRAP
    with tempfile.TemporaryDirectory() as tmp:
        report = osp.join(tmp, 'report.json')
        cmd = [target_py, '-m', 'pip', 'install', '-q', '--dry-run', '--ignore-installed', '--report', report]
        subprocess.run(cmd + ['-c', REQ, *reqs], check=True)
        with open(report) as f:
            items = json.load(f)['install']
    return {norm(i['metadata']['name']): i['metadata']['version'] for i in items}


def _is_torch_part(name: str) -> bool:
    """torch, torchvision and the CUDA libraries and compiler they bring (a machine's own torch has them)."""
    return name in ('torch', 'torchvision', 'triton') or name.startswith(('nvidia-', 'cuda-'))


def _build_info(mmcv_wheel: str) -> dict:
    """The torch version and interpreter of the build venv a cached mmcv wheel came from (its cache folder name)."""
    folder = osp.basename(osp.dirname(mmcv_wheel))  # mmcv-<ver>-torch<torch>-py<XY>-<ops>
    m = re.match(r'^mmcv-[^-]+-torch(?P<torch>[^-]+)-py(?P<py>\d+)-', folder)
    if not m:
        raise KitError(f'{mmcv_wheel}: not in a build_mmcv.sh cache folder (mmcv-<ver>-torch<ver>-py<XY>-<ops>)')
    py = m.group('py')
    cache = osp.dirname(osp.dirname(osp.dirname(mmcv_wheel)))
    exe = osp.join(cache, 'build', f'py{py}-torch{m.group("torch").split("+")[0]}', 'bin', 'python')
    if not os.access(exe, os.X_OK):  # built into an existing venv (setup's): pip resolves for this interpreter
        exe = sys.executable
    return dict(torch=m.group('torch'), python_exe=exe)


def _write_manifest(out: str, manifest: dict) -> None:
    with open(osp.join(out, 'MANIFEST.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    with open(osp.join(out, 'SHA256SUMS'), 'w') as f:
        f.writelines(f'{w["sha256"]}  {w["file"]}\n' for w in manifest['wheels'])


def load(folder: str) -> dict:
    path = osp.join(folder, 'MANIFEST.json')
    if not osp.isfile(path):
        raise KitError(
            f'{folder} is not a wheelhouse (no MANIFEST.json); make one with '
            f'python tools/make_wheelhouse.py build --python X.Y --out {folder}'
        )
    with open(path) as f:
        return json.load(f)


def verify(folder: str, ops: str = '', python: str = '') -> dict:
    """Check every wheel against the manifest, and the kit against this Python and these GPUs.

    Args:
        folder: the wheelhouse.
        ops: ``''`` (no GPU here) or ``'cuda:<arch list>'`` of the GPUs here, e.g. ``'cuda:9.0'``.
        python: the target's ``X.Y`` (default: this interpreter's).
    """
    manifest = load(folder)
    python = python or f'{sys.version_info[0]}.{sys.version_info[1]}'
    if manifest['python'] != python:
        raise KitError(
            f'{folder} was made for Python {manifest["python"]}; this is Python {python}. Make one for '
            f'this Python: python tools/make_wheelhouse.py build --python {python} --out DIR'
        )
    for wheel in manifest['wheels']:
        path = osp.join(folder, wheel['file'])
        if not osp.isfile(path):
            raise KitError(f'{path} is listed in the manifest but missing: copy the whole wheelhouse again')
        if os.path.getsize(path) != wheel['bytes'] or sha256(path) != wheel['sha256']:
            raise KitError(f'{path} does not match its SHA-256 in the manifest: the copy is damaged; copy it again')
    if ops.startswith('cuda:'):
        need = set(filter(None, ops[5:].split(';')))
        have = set(filter(None, manifest.get('cuda_arch', '').split(';')))
        if manifest['ops'] != 'cuda' or not need <= have:
            raise KitError(
                f'this machine has GPUs of arch {";".join(sorted(need))}, but the wheelhouse mmcv has '
                f'{"CPU ops only" if manifest["ops"] != "cuda" else "CUDA ops for " + manifest["cuda_arch"]}: '
                f'RoIAlign and NMS would fail on CUDA tensors. Make one with '
                f'--cuda-arch "{";".join(sorted(need | have))}".'
            )
    _log(
        f'{folder}: {len(manifest["wheels"])} wheels verified (Python {python}, {manifest["ops"]} '
        f'{manifest.get("cuda_arch", "")}, mmcv built against torch {manifest["torch"]})'
    )
    return manifest


def listing(folder: str, only=(), exclude=(), skip_present: bool = False) -> list:
    """Paths of the kit's wheels, filtered by name; ``skip_present``: not those this Python already has."""
    manifest = load(folder)
    present = {}
    if skip_present:
        from importlib.metadata import distributions

        present = {norm(d.metadata['Name']): d.version for d in distributions()}
    out = []
    for wheel in manifest['wheels']:
        if (only and wheel['name'] not in only) or wheel['name'] in exclude:
            continue
        if present.get(wheel['name']) == wheel['version']:
            continue
        out.append(osp.join(folder, wheel['file']))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    b = sub.add_parser('build', help='make a wheelhouse')
    b.add_argument('--python', required=True, help='target Python version (e.g. 3.12) or interpreter path')
    b.add_argument(
        '--cuda-arch', default='', help='CUDA archs for mmcv, e.g. "9.0" or "8.0;8.6;8.9;9.0" (default: CPU)'
    )
    b.add_argument('--kit', default='full', choices=['full', 'without-torch', 'gpu-minimal'])
    b.add_argument('--out', required=True)
    v = sub.add_parser('verify', help='check a wheelhouse against its manifest and this machine')
    v.add_argument('folder')
    v.add_argument('--ops', default='', help="'cuda:<archs>' for the GPUs of this machine, '' without")
    v.add_argument('--python', default='', help='target Python X.Y (default: this one)')
    ls = sub.add_parser('list', help='print the wheel paths, one a line')
    ls.add_argument('folder')
    ls.add_argument('--only', default='', help='comma-separated names')
    ls.add_argument('--except', dest='exclude', default='', help='comma-separated names')
    ls.add_argument('--skip-present', action='store_true', help='not the wheels whose version is installed already')
    args = parser.parse_args(argv)
    try:
        if args.command == 'build':
            build(args.python, args.out, args.kit, args.cuda_arch)
        elif args.command == 'verify':
            verify(args.folder, args.ops, args.python)
        else:
            names = [{norm(n) for n in s.split(',') if n} for s in (args.only, args.exclude)]
            print('\n'.join(listing(args.folder, names[0], names[1], args.skip_present)))
    except KitError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
