"""Synthetic demo datasets, made on the machine (no download), in the real formats the configs read.

* :func:`generate_coco` (:mod:`.coco`): shapes in COCO instances format, for the detection demo;
* :func:`generate_ade` (:mod:`.ade`): textures in ADE20K's layout, for the segmentation demo, read by
  :class:`SyntheticADE20KDataset`;
* :func:`generate_imagefolder` (:mod:`.imagefolder`): one shape or one texture field per image in
  ImageNet folder layout, for the classification (pretraining) demo.

The shapes, colour families, fills, backgrounds and textures of all three sets are drawn by one
module, :mod:`.draw`. ``python tools/make_demo_data.py {coco,ade,cls}`` writes each set.
"""

from .ade import SyntheticADE20KDataset, generate_ade
from .coco import generate_coco
from .draw import SHAPES, TEXTURES
from .imagefolder import generate_imagefolder

__all__ = ['SHAPES', 'SyntheticADE20KDataset', 'TEXTURES', 'generate_ade', 'generate_coco', 'generate_imagefolder']
