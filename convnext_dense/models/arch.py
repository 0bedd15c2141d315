"""ConvNeXt sizes: depths and widths per stage, by name, and custom sizes.

Sources: Liu et al., "A ConvNet for the 2020s" (V1 tiny..xlarge); Woo et al., "ConvNeXt V2" (atto..huge);
see docs/recipes.md. Both the model (``convnext.py``) and the checkpoint reader (``checkpoint.py``) use
this table, which depends on neither.
"""

import difflib
from typing import Dict, List, Sequence, Union

from ..errors import ConfigError

# depths and widths per stage, from the papers. V2 models use GRN in
# the MLP and no layer scale.
ARCH_SETTINGS: Dict[str, dict] = {
    'tiny': dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)),
    'small': dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768)),
    'base': dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)),
    'large': dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536)),
    'xlarge': dict(depths=(3, 3, 27, 3), dims=(256, 512, 1024, 2048)),
    'v2-atto': dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), grn=True),
    'v2-femto': dict(depths=(2, 2, 6, 2), dims=(48, 96, 192, 384), grn=True),
    'v2-pico': dict(depths=(2, 2, 6, 2), dims=(64, 128, 256, 512), grn=True),
    'v2-nano': dict(depths=(2, 2, 8, 2), dims=(80, 160, 320, 640), grn=True),
    'v2-tiny': dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768), grn=True),
    'v2-base': dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024), grn=True),
    'v2-large': dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536), grn=True),
    'v2-huge': dict(depths=(3, 3, 27, 3), dims=(352, 704, 1408, 2816), grn=True),
}


def resolve_arch(arch: Union[str, dict]) -> dict:
    """Return ``dict(depths, dims, grn)`` for an arch name or a custom dict.

    Args:
        arch: a key of :data:`ARCH_SETTINGS` or ``dict(depths=[...], dims=[...], grn=False)``.

    Raises:
        ConfigError: an unknown name, or a custom dict without matching ``depths``/``dims``.
    """
    if isinstance(arch, str):
        if arch not in ARCH_SETTINGS:
            close = difflib.get_close_matches(arch, list(ARCH_SETTINGS), n=1, cutoff=0.5)
            raise ConfigError(
                f'ConvNeXt: unknown arch {arch!r}; choose one of {sorted(ARCH_SETTINGS)} '
                f'or pass a dict such as dict(depths=[3, 3, 9, 3], dims=[96, 192, 384, 768]).'
                + (f' Did you mean {close[0]!r}?' if close else '')
            )
        arch = ARCH_SETTINGS[arch]
    if not isinstance(arch, dict):
        raise ConfigError(f'ConvNeXt: arch must be a name or a dict, got {type(arch).__name__}: {arch!r}')
    unknown = set(arch) - {'depths', 'dims', 'grn'}
    if unknown or 'depths' not in arch or 'dims' not in arch:
        raise ConfigError(
            f"ConvNeXt: a custom arch needs the keys 'depths' and 'dims' (and optionally 'grn'); " f'got {sorted(arch)}'
        )
    depths, dims = tuple(int(d) for d in arch['depths']), tuple(int(d) for d in arch['dims'])
    if len(depths) != len(dims) or not depths or min(depths) < 1 or min(dims) < 1:
        raise ConfigError(f'ConvNeXt: arch depths {depths} and dims {dims} must be positive and of equal length')
    return dict(depths=depths, dims=dims, grn=bool(arch.get('grn', False)))


def stage_channels(arch: Union[str, dict], out_indices: Sequence[int] = (0, 1, 2, 3)) -> List[int]:
    """The widths of the stages a backbone of ``arch`` returns: what a neck or head takes in.

    Configs call it so that a neck's ``in_channels`` follow the backbone's arch instead of being typed
    by hand (``neck=dict(in_channels=stage_channels(arch, (1, 2, 3)))``); a function is not kept in the
    parsed config, unlike an imported table.

    Args:
        arch: as :func:`resolve_arch` takes it; a custom dict may carry mmengine's ``_delete_`` marker (a
            demo's ``arch = dict(_delete_=True, depths=..., dims=...)`` replacing a base's ``'tiny'``).
        out_indices: the backbone's ``out_indices`` (negative indices count from the last stage).

    Returns:
        One width per returned stage, in stage order.

    Example:
        >>> stage_channels('tiny', (1, 2, 3)), stage_channels(dict(depths=[1, 1], dims=[8, 16]), (-1,))
        ([192, 384, 768], [16])
    """
    if isinstance(arch, dict):
        arch = {k: v for k, v in arch.items() if k != '_delete_'}
    dims = resolve_arch(arch)['dims']
    return [dims[i] for i in sorted(i % len(dims) for i in out_indices)]
