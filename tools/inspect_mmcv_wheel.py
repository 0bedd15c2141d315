"""Which GPU archs an mmcv build holds compiled CUDA kernels for, read from the wheel itself (no GPU, no CUDA).

    python tools/inspect_mmcv_wheel.py ~/.cache/convnext_dense/wheels/mmcv-2.1.0-...-cuda-ops-sm90/mmcv-*.whl
    python tools/inspect_mmcv_wheel.py WHEEL --cuda-arch "8.0;9.0"     # exit 2 unless each arch has kernels

``nvcc`` puts a GPU's code into the ``.nv_fatbin`` section of the extension (``mmcv/_ext*.so``): one
fatbinary container (magic ``0xBA55ED50``) per compiled CUDA source, each with entries of kind ELF (machine
code for one SM arch, what runs on that GPU) or PTX (intermediate code a newer GPU's driver can compile).
``cuobjdump --list-elf`` lists the same; NVIDIA's compiler wheels on PyPI do not ship it, so the
containers' headers are read here. A wheel built with CPU ops only has no such section.

Only the standard library is used here: it runs where no environment exists yet.
"""

import argparse
import json
import struct
import sys
import zipfile
from collections import Counter
from typing import Dict, List, Tuple

FATBIN_MAGIC = 0xBA55ED50
KINDS = {1: 'ptx', 2: 'elf'}


class InspectError(Exception):
    """A file that is not what the command expects; the message says why."""


def extension_bytes(path: str) -> bytes:
    """The bytes of ``mmcv/_ext*.so`` in a wheel, or of ``path`` itself (an extension or a raw fatbinary)."""
    if path.endswith('.whl'):
        with zipfile.ZipFile(path) as wheel:
            names = [n for n in wheel.namelist() if n.startswith('mmcv/_ext') and n.endswith('.so')]
            if not names:
                raise InspectError(f'{path} has no mmcv/_ext*.so: it is an mmcv built without ops (MMCV_WITH_OPS=1)')
            return wheel.read(names[0])
    with open(path, 'rb') as f:
        return f.read()


def fatbin_section(data: bytes) -> bytes:
    """The ``.nv_fatbin`` section of an ELF64 file (``b''`` if it has none); a raw fatbinary as it is."""
    if data[:4] == struct.pack('<I', FATBIN_MAGIC):
        return data
    if data[:4] != b'\x7fELF' or data[4] != 2:
        raise InspectError('not a 64-bit ELF shared object, a wheel or a fatbinary')
    shoff = struct.unpack_from('<Q', data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3A)
    sections = [struct.unpack_from('<IIQQQQ', data, shoff + i * shentsize) for i in range(shnum)]
    names_at = sections[shstrndx][4]
    for name_off, _, _, _, offset, size in sections:
        end = data.index(b'\0', names_at + name_off)
        if data[names_at + name_off : end] == b'.nv_fatbin':
            return data[offset : offset + size]
    return b''


def fatbin_entries(section: bytes) -> List[Tuple[str, int]]:
    """``[(kind, sm), ...]`` of every entry of every container, e.g. ``('elf', 90)``."""
    entries, pos = [], 0
    while pos + 16 <= len(section):
        magic, _, header_size, containers_size = struct.unpack_from('<IHHQ', section, pos)
        if magic != FATBIN_MAGIC:
            if any(section[pos : pos + 16]):
                raise InspectError(f'unexpected bytes at offset {pos} of .nv_fatbin (not a fatbinary container)')
            pos += 16  # zero padding between containers
            continue
        entry, end = pos + header_size, pos + header_size + containers_size
        while entry < end:
            kind, _, entry_header, payload = struct.unpack_from('<HHIQ', section, entry)
            sm = struct.unpack_from('<I', section, entry + 28)[0]
            entries.append((KINDS.get(kind, f'kind{kind}'), sm))
            entry += entry_header + payload
        pos = end
    return entries


def summary(path: str) -> Dict[str, Dict[str, int]]:
    """``{'9.0': {'elf': 58, 'ptx': 0}, ...}``: the number of compiled kernels' containers per arch and kind."""
    counts = Counter(fatbin_entries(fatbin_section(extension_bytes(path))))
    out: Dict[str, Dict[str, int]] = {}
    for (kind, sm), n in sorted(counts.items(), key=lambda item: (item[0][1], item[0][0])):
        out.setdefault(f'{sm // 10}.{sm % 10}', {'elf': 0, 'ptx': 0})[kind] = n
    return out


def check(path: str, cuda_arch: str) -> Dict[str, Dict[str, int]]:
    """The summary; an InspectError unless every arch of ``cuda_arch`` ('8.0;9.0') has ELF (machine) code."""
    found = summary(path)
    want = [a.strip() for a in cuda_arch.replace(',', ';').split(';') if a.strip()]
    missing = [a for a in want if not found.get(a, {}).get('elf')]
    if missing:
        have = ', '.join(f'sm {a}: {c["elf"]} ELF, {c["ptx"]} PTX' for a, c in found.items()) or 'no CUDA code at all'
        raise InspectError(f'{path} has no compiled kernels for arch {", ".join(missing)} ({have}); rebuild with '
                           f'bash tools/build_mmcv.sh --cuda-arch "{cuda_arch}"')  # fmt: skip
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('path', help='an mmcv wheel, its _ext*.so, or a fatbinary')
    parser.add_argument('--cuda-arch', default='', help='archs that must have ELF kernels, e.g. "8.0;9.0"')
    parser.add_argument('--json', action='store_true', help='print the summary as JSON')
    args = parser.parse_args(argv)
    try:
        found = check(args.path, args.cuda_arch) if args.cuda_arch else summary(args.path)
    except (InspectError, OSError, zipfile.BadZipFile) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(found))
    elif not found:
        print(f'{args.path}: no CUDA code (an mmcv with CPU ops only)')
    else:
        for arch, counts in found.items():
            print(f'sm {arch}: {counts["elf"]} ELF (compiled kernels), {counts["ptx"]} PTX')
    return 0


if __name__ == '__main__':
    sys.exit(main())
