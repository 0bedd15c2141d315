"""This package's version, and the mmcv it needs, checked before mmdet and mmseg import mmcv.

An environment with OpenMMLab 1.x's ``mmcv-full`` or with mmcv 2.2 (which mmdet 3.3 and mmseg 1.2 refuse)
fails in those packages with an ``AssertionError`` or an undefined symbol; :func:`check_mmcv` says which
mmcv was found, which one is needed and the command, from the installed packages' metadata alone (a
broken mmcv is never imported for it).

Example:
    >>> check_mmcv(lambda name: {'mmcv': '2.1.0'}[name])
    '2.1.0'
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Callable

__version__ = '0.1.0'
MMCV_RANGE = ((2, 0), (2, 2))  # mmdet 3.3 and mmseg 1.2: mmcv>=2.0.0rc4,<2.2.0; requirements.txt pins 2.1.0
_FIX = (
    'make setup builds mmcv 2.1.0 for this torch in .venv (or: bash tools/build_mmcv.sh --python '
    '$(which python), then pip install the wheel it prints)'
)


def check_mmcv(version_of: Callable[[str], str] = version) -> str:
    """The installed mmcv version; an ImportError naming the version found, the one needed and the fix otherwise."""

    def installed(name):
        try:
            return version_of(name)
        except (PackageNotFoundError, KeyError):
            return None

    full = installed('mmcv-full')
    if full is not None:
        raise ImportError(
            f'mmcv-full {full} (OpenMMLab 1.x) is installed; convnext_dense needs mmcv 2.1.0 (mmdet 3.3 '
            f'and mmseg 1.2 need mmcv>=2.0,<2.2). Remove it: pip uninstall -y mmcv-full mmcv; then {_FIX}.'
        )
    found = installed('mmcv')
    if found is None:
        raise ImportError(f'mmcv is not installed; convnext_dense needs mmcv 2.1.0 with its compiled ops: {_FIX}.')
    parts = tuple(int(p) for p in found.split('.')[:2] if p.isdigit())
    if not MMCV_RANGE[0] <= parts < MMCV_RANGE[1]:
        raise ImportError(
            f'mmcv {found} is installed; convnext_dense needs mmcv 2.1.0 (mmdet 3.3 and mmseg 1.2 need '
            f'mmcv>=2.0,<2.2). Replace it: pip uninstall -y mmcv; then {_FIX}.'
        )
    return found
