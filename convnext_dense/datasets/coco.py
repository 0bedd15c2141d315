"""``CheckedCocoDataset``: mmdet's ``CocoDataset`` with clear errors for broken inputs.

mmdet 3.3 reads a COCO file without checking it against the config, and several mistakes are silent
or surface far from their cause:

* class names in ``metainfo`` that are not categories of the file: their annotations are dropped
  without a word (the default ``metainfo`` is the 80 COCO classes, so a custom dataset without
  ``metainfo=dict(classes=...)`` trains on no boxes at all);
* a training set left empty by ``filter_empty_gt``: a sampler error about ``num_samples``;
* a malformed file: a bare ``json.JSONDecodeError`` or ``KeyError`` without the file's name;
* a missing or undecodable image: ``AssertionError: failed to load image`` deep in a dataloader worker.

Annotations with zero area or size and boxes entirely outside their image are skipped by mmdet (as
in COCO); they are reported here as a warning with counts and example ids, not errors, since COCO
itself holds a few. Boxes that cross the image border are kept (the resize and crop transforms clip
them; a warning counts them) and crowd annotations become ignored regions. Everything else is
mmdet's CocoDataset.
"""

import json
import logging
import os.path as osp
from collections import Counter
from functools import partial
from typing import List, Sequence

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from ..errors import DataError, MissingFileError
from ..utils import shorten


class CheckedCOCO(COCO):
    """mmdet's COCO API that names ``annotation_file`` in every error and checks the categories.

    Args:
        annotation_file: a COCO instances JSON file.
        classes: the dataset's class names; each must be a category name of the file.
    """

    def __init__(self, annotation_file: str, classes: Sequence[str] = ()):
        if not osp.isfile(annotation_file):
            raise MissingFileError(
                f'COCO annotation file {annotation_file!r} does not exist. Check data_root and '
                f'ann_file in the config (--cfg-options data_root=...); for the demo data run '
                f'`python tools/make_demo_data.py coco --out data/synthetic_coco`.'
            )
        try:
            super().__init__(annotation_file)
        except json.JSONDecodeError as e:
            raise DataError(
                f'COCO annotation file {annotation_file!r} is not valid JSON ({e}); it is truncated or '
                f'not an annotation file: re-create or re-download it.'
            ) from None
        except (AssertionError, KeyError, TypeError) as e:
            raise DataError(
                f'COCO annotation file {annotation_file!r} is not in COCO format ({type(e).__name__}: '
                f'{e}); it needs a dict with lists "images", "annotations" and "categories".'
            ) from None
        self._check_layout(annotation_file)
        self._check_classes(annotation_file, classes)
        self._report_skipped(annotation_file)

    def _check_layout(self, annotation_file: str) -> None:
        missing = [key for key in ('images', 'categories') if not isinstance(self.dataset.get(key), list)]
        if missing:
            raise DataError(
                f'COCO annotation file {annotation_file!r} has no list {missing} (keys: '
                f'{sorted(self.dataset)}); a COCO instances file needs "images", "annotations" and '
                f'"categories".'
            )
        for ann in self.dataset.get('annotations', []):
            bad = [key for key in ('id', 'image_id', 'category_id', 'bbox') if key not in ann]
            if bad:
                raise DataError(
                    f'COCO annotation file {annotation_file!r}: annotation {ann.get("id", "?")} lacks '
                    f'{bad}; every annotation needs id, image_id, category_id, bbox (and area, '
                    f'iscrowd, segmentation for masks).'
                )
        orphans = sum(ann['image_id'] not in self.imgs for ann in self.dataset.get('annotations', []))
        if orphans:
            print_log(
                f'{annotation_file}: {orphans} annotations refer to image ids that are not in "images"; '
                f'they are ignored.',
                logger='current',
                level=logging.WARNING,
            )

    def _check_classes(self, annotation_file: str, classes: Sequence[str]) -> None:
        names = [cat['name'] for cat in self.dataset['categories']]
        unknown = [c for c in classes if c not in names]
        if unknown:
            raise DataError(
                f"COCO annotation file {annotation_file!r} has the categories {names}, but the dataset's classes "
                f'[{shorten(unknown)}] are not among them ({len(unknown)} of {len(classes)}), so their annotations '
                f'would be dropped silently. Set metainfo=dict(classes={tuple(names)}) in the dataset config (and the '
                f"heads' num_classes={len(names)}), or fix the file's category names."
            )
        extra = [n for n in names if n not in classes]
        if extra:
            print_log(
                f"{annotation_file}: the categories [{shorten(extra)}] are not in the dataset's classes; their "
                f'annotations are not used.',
                logger='current',
                level=logging.WARNING,
            )

    def _report_skipped(self, annotation_file: str) -> None:
        """Log what mmdet will skip or change, as counts with a few annotation ids (not errors).

        mmdet's ``CocoDataset`` skips, without a word, boxes with zero area or a side under 1 pixel and
        boxes entirely outside their image, and keeps boxes that cross the image border unclipped
        (``Resize``/``RandomCrop`` clip them while training, with ``clip_object_border=True``). COCO
        itself holds a few such boxes, so they stay skipped as in mmdet; this says how many.
        """
        skipped, partial, crowd = [], [], 0
        for ann in self.dataset.get('annotations', []):
            x, y, w, h = ann['bbox'][:4]
            img = self.imgs.get(ann['image_id'])
            if ann.get('area', 1) <= 0 or w < 1 or h < 1:
                skipped.append((ann['id'], 'zero area or a side < 1 px'))
                continue
            if img is not None and 'width' in img and 'height' in img:
                inter_w = max(0, min(x + w, img['width']) - max(x, 0))
                inter_h = max(0, min(y + h, img['height']) - max(y, 0))
                if inter_w * inter_h == 0:
                    skipped.append((ann['id'], 'entirely outside the image'))
                    continue
                if x < 0 or y < 0 or x + w > img['width'] or y + h > img['height']:
                    partial.append(ann['id'])
            if ann.get('iscrowd', 0):
                crowd += 1
        if skipped:
            reasons = Counter(reason for _, reason in skipped)
            examples = ', '.join(f'id {i} ({reason})' for i, reason in skipped[:3])
            print_log(
                f'{annotation_file}: {len(skipped)} annotations are skipped, as mmdet does '
                f'({", ".join(f"{n} {what}" for what, n in reasons.items())}), e.g. {examples}. '
                f'Fix their "bbox" ([x, y, width, height] in pixels) if they are real objects.',
                logger='current',
                level=logging.WARNING,
            )
        if partial:
            print_log(
                f'{annotation_file}: {len(partial)} boxes cross their image border (e.g. ids {partial[:3]}); '
                f'they are used, clipped to the image by the resize and crop transforms.',
                logger='current',
                level=logging.WARNING,
            )
        if crowd:
            print_log(
                f'{annotation_file}: {crowd} crowd annotations (iscrowd=1) become ignored regions.',
                logger='current',
                level=logging.INFO,
            )


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """``CocoDataset`` that fails early, naming the file and the fix, on the mistakes listed above.

    Takes exactly ``CocoDataset``'s arguments (``data_root``, ``ann_file``, ``data_prefix``,
    ``metainfo``, ``filter_cfg``, ``pipeline``, ``test_mode``, ...).
    """

    def load_data_list(self) -> List[dict]:
        if self.backend_args is None:  # local files: check the image folder before parsing anything
            img_dir = self.data_prefix.get('img', '')
            if img_dir and not osp.isdir(img_dir):
                raise MissingFileError(
                    f'image folder {img_dir!r} (data_root={self.data_root!r}, data_prefix='
                    f'{self.data_prefix!r}) does not exist; fix data_root / data_prefix in the '
                    f'config or create the data (see {self.ann_file!r}).'
                )
        classes = tuple(self.metainfo['classes'])
        # CocoDataset.load_data_list builds `self.COCOAPI(path)`; this instance's API also gets the classes.
        self.COCOAPI = partial(CheckedCOCO, classes=classes)
        return super().load_data_list()

    def filter_data(self) -> List[dict]:
        kept = super().filter_data()
        if not kept and not self.test_mode:
            raise DataError(
                f'{self.ann_file}: no training image is left after filtering ({len(self.data_list)} '
                f'images, filter_cfg={self.filter_cfg}, classes=[{shorten(self.metainfo["classes"])}])'
                f'; the file needs images with annotations of these classes, or set '
                f'filter_cfg=dict(filter_empty_gt=False).'
            )
        return kept

    def prepare_data(self, idx: int):
        try:
            return super().prepare_data(idx)
        except FileNotFoundError as e:
            info = self.get_data_info(idx)
            raise MissingFileError(
                f'image {info["img_path"]!r} (id {info["img_id"]} in {self.ann_file}) does not '
                f'exist: check data_prefix, or remove the image from the annotation file.'
            ) from e
        except AssertionError as e:
            if 'failed to load image' not in str(e):
                raise
            info = self.get_data_info(idx)
            raise DataError(
                f'image {info["img_path"]!r} (id {info["img_id"]} in {self.ann_file}) cannot be decoded:'
                f' the file is corrupt or not an image. Replace it (for the demo data re-run '
                f'tools/make_demo_data.py) or remove it from the annotation file.'
            ) from e
