"""The authors' released ConvNeXt weights: one table of files, and the checkpoint URLs a config names.

:data:`RELEASED_WEIGHTS` lists the authors' releases (facebookresearch/ConvNeXt and
facebookresearch/ConvNeXt-V2 README tables); ``docs/pretrained_weights.md`` says which config uses
which and where each URL and accuracy comes from. :func:`config_checkpoints` finds the URLs a config
would download. Downloading them (once, into torch hub's cache) is :mod:`convnext_dense.hub`;
``tools/download_weights.py`` does it ahead of time (``--list`` prints this table).
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..hf_hub import is_hub_name
from ..utils import is_url

V1_SOURCE = 'facebookresearch/ConvNeXt README.md'
V1_DENSE_SOURCE = (
    'facebookresearch/ConvNeXt object_detection/README.md and semantic_segmentation/README.md '
    '("Pretrained Model" column)'
)
V2_SOURCE = 'facebookresearch/ConvNeXt-V2 README.md'
_FB = 'https://dl.fbaipublicfiles.com/convnext/'


@dataclass(frozen=True)
class ReleasedWeights:
    """One released checkpoint.

    Attributes:
        name: the file name without extension (``--name`` of tools/download_weights.py).
        arch: the ``ConvNeXt`` arch it fits (``'tiny'`` ... ``'xlarge'``, ``'v2-atto'`` ... ``'v2-huge'``).
        data: what it was trained on: ``IN-1K``, ``IN-22K``, ``IN-22K -> IN-1K`` (22K pre-trained, 1K
            fine-tuned), ``FCMAE`` (V2 self-supervised, ImageNet-1K images), ``FCMAE -> IN-1K``,
            ``FCMAE -> IN-22K -> IN-1K``.
        resolution: training resolution (square).
        ema: the file holds the EMA weights (under ``model``, as the non-EMA files do).
        top1: ImageNet-1K top-1 (%) the authors report for this file; None where they report none
            (22K classifiers, FCMAE encoders, and the non-EMA 1K files linked only from the
            detection and segmentation READMEs).
        url: the authors' download address.
        source: where the URL and the accuracy are published.

    Every file loads as it is (``load_pretrained``, a classifier's ``finetune``): the V2 FCMAE files
    hold the sparse pre-training model, whose encoder the loader converts (:mod:`.state_dict`).
    """

    name: str
    arch: str
    data: str
    resolution: int
    ema: bool
    top1: Optional[float]
    url: str
    source: str


def _v1(
    size: str, data_tag: str, res: int, top1: Optional[float], data: str, ema: bool = False, source: str = V1_SOURCE
) -> ReleasedWeights:
    name = f'convnext_{size}_{data_tag}_{res}' + ('_ema' if ema else '')
    return ReleasedWeights(name, size, data, res, ema, top1, f'{_FB}{name}.pth', source)


def _v2(
    size: str, folder: str, data_tag: str, res: int, top1: Optional[float], data: str, suffix: str = 'ema'
) -> ReleasedWeights:
    name = f'convnextv2_{size}_{data_tag}_{res}_{suffix}'
    return ReleasedWeights(
        name, f'v2-{size}', data, res, suffix == 'ema', top1, f'{_FB}convnextv2/{folder}/{name}.pt', V2_SOURCE
    )


_TABLE: List[ReleasedWeights] = [
    # V1, ImageNet-1K, non-EMA: what the authors' detection and segmentation recipes start from
    *[_v1(s, '1k', 224, None, 'IN-1K', source=V1_DENSE_SOURCE) for s in ('tiny', 'small', 'base')],
    # V1, ImageNet-1K, EMA (the classification table)
    *[
        _v1(s, '1k', 224, t, 'IN-1K', ema=True)
        for s, t in (('tiny', 82.1), ('small', 83.1), ('base', 83.8), ('large', 84.3))
    ],
    _v1('base', '1k', 384, 85.1, 'IN-1K'),
    _v1('large', '1k', 384, 85.5, 'IN-1K'),
    # V1, ImageNet-22K classifiers (21841 classes): what the in22k detection/segmentation recipes use
    *[_v1(s, '22k', 224, None, 'IN-22K') for s in ('tiny', 'small', 'base', 'large', 'xlarge')],
    # V1, ImageNet-22K pre-trained, ImageNet-1K fine-tuned (XL as EMA)
    *[
        _v1(s, '22k_1k', 224, t, 'IN-22K -> IN-1K', ema=s == 'xlarge')
        for s, t in (('tiny', 82.9), ('small', 84.6), ('base', 85.8), ('large', 86.6), ('xlarge', 87.0))
    ],
    *[
        _v1(s, '22k_1k', 384, t, 'IN-22K -> IN-1K', ema=s == 'xlarge')
        for s, t in (('tiny', 84.1), ('small', 85.8), ('base', 86.8), ('large', 87.5), ('xlarge', 87.8))
    ],
    # V2, FCMAE pre-trained only (self-supervised on ImageNet-1K images)
    *[
        _v2(s, 'pt_only', '1k', 224, None, 'FCMAE', suffix='fcmae')
        for s in ('atto', 'femto', 'pico', 'nano', 'tiny', 'base', 'large', 'huge')
    ],
    # V2, FCMAE pre-trained, ImageNet-1K fine-tuned (released as EMA only)
    *[
        _v2(s, 'im1k', '1k', 224, t, 'FCMAE -> IN-1K')
        for s, t in (
            ('atto', 76.7),
            ('femto', 78.5),
            ('pico', 80.3),
            ('nano', 81.9),
            ('tiny', 83.0),
            ('base', 84.9),
            ('large', 85.8),
            ('huge', 86.3),
        )
    ],
    # V2, FCMAE pre-trained, ImageNet-22K then ImageNet-1K fine-tuned (EMA)
    *[
        _v2(s, 'im22k', '22k', r, t, 'FCMAE -> IN-22K -> IN-1K')
        for s, r, t in (
            ('nano', 224, 82.1),
            ('nano', 384, 83.4),
            ('tiny', 224, 83.9),
            ('tiny', 384, 85.1),
            ('base', 224, 86.8),
            ('base', 384, 87.7),
            ('large', 224, 87.3),
            ('large', 384, 88.2),
            ('huge', 384, 88.7),
            ('huge', 512, 88.9),
        )
    ],
]
RELEASED_WEIGHTS: Dict[str, ReleasedWeights] = {w.name: w for w in _TABLE}
_BY_URL: Dict[str, ReleasedWeights] = {w.url: w for w in _TABLE}


def released(name_or_url: str) -> Optional[ReleasedWeights]:
    """The table entry for a name (``convnext_tiny_1k_224``) or a URL; None if it is not listed."""
    return RELEASED_WEIGHTS.get(name_or_url) or _BY_URL.get(name_or_url)


def config_checkpoints(cfg) -> List[Tuple[str, str]]:
    """``(option key, address)`` of every ``checkpoint`` a run of a config downloads: http(s) URLs and hub names.

    E.g. ``[('model.backbone.init_cfg.checkpoint', 'https://...')]``; classification fine-tuning configs
    give ``model.finetune.checkpoint``; a ``timm:`` / ``hf-hub:`` name (:mod:`convnext_dense.hf_hub`) is
    listed as it is written.
    """
    found: List[Tuple[str, str]] = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == 'checkpoint' and (is_url(value) or is_hub_name(value)):
                    if value not in [url for _, url in found]:
                        found.append((f'{path}.{key}', value))
                else:
                    walk(value, f'{path}.{key}')
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f'{path}.{i}')

    walk(cfg.get('model', {}), 'model')
    return found


def config_urls(cfg) -> List[str]:
    """The http(s) checkpoint URLs and hub names of a config's ``model`` (see :func:`config_checkpoints`)."""
    return [url for _, url in config_checkpoints(cfg)]
