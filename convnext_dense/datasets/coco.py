"""``CheckedCocoDataset``: mmdet's ``CocoDataset`` with clear errors for broken inputs.

mmdet 3.3 reads a COCO file without checking it against the config, and several mistakes are silent
or surface far from their cause:

* class names in ``metainfo`` that are not categories of the file: their annotations are dropped
  without a word (the default ``metainfo`` is the 80 COCO classes, so a custom dataset without
  ``metainfo=dict(classes=...)`` trains on no boxes at all);
* a training set left empty by ``filter_empty_gt``: a sampler error about ``num_samples``;
* a malformed file: a bare ``json.JSONDecodeError`` or ``KeyError`` without the file's name;
* a missing or undecodable image: ``AssertionError: failed to load image`` deep in a dataloader worker;
* fields of a wrong type or missing (a NaN box passes mmdet's size filter, ``nan < 1`` being false, and turns the
  loss NaN; no ``area`` is a bare ``KeyError``), ids used twice (pycocotools keeps the last image of an id);
* box-only annotations with a pipeline that loads masks: ``KeyError: 'mask'`` in a dataloader worker;
* classes named in another order than the file's categories (mmdet numbers them in the file's order, so every
  label gets another name), and category ids that are not ascending in the file (mmdet 3.3's ``CocoMetric``
  prints its per-class AP table in its own order while ``COCOeval.evaluate`` sorts the ids);
* an image file of another size than its json entry (boxes and polygons are in the entry's pixels; detectron2's
  ``check_image_size`` makes the same check).

Neither pycocotools nor mmdet validates the file's schema, so these checks are written here.

Annotations with zero area or size and boxes entirely outside their image are skipped by mmdet (as
in COCO); they are reported here as a warning with counts and example ids, not errors, since COCO
itself holds a few. Boxes that cross the image border are kept (the resize and crop transforms clip
them; a warning counts them) and crowd annotations become ignored regions. Everything else is
mmdet's CocoDataset.
"""

import json
import logging
import math
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


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_box(value) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    )


IMAGE_FIELDS = {
    'id': _is_int,
    'file_name': lambda v: isinstance(v, str) and bool(v),
    'width': lambda v: _is_int(v) and v > 0,
    'height': lambda v: _is_int(v) and v > 0,
}
CATEGORY_FIELDS = {'id': _is_int, 'name': lambda v: isinstance(v, str)}
ANNOTATION_FIELDS = {
    'id': _is_int,
    'image_id': _is_int,
    'category_id': _is_int,
    'bbox': _is_box,
    'area': lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
}
_OPTIONAL = {'iscrowd': lambda v: v in (0, 1)}


def _is_mask(value) -> bool:
    """COCO polygons (lists of finite coordinates) or RLE (``counts`` a string or ints, ``size`` [h, w])."""
    if isinstance(value, list):
        return all(
            isinstance(p, list)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
            for p in value
        )
    if isinstance(value, dict):
        size, counts = value.get('size'), value.get('counts')
        return (
            isinstance(size, list)
            and len(size) == 2
            and all(_is_int(v) and v > 0 for v in size)
            and (isinstance(counts, str) or (isinstance(counts, list) and all(_is_int(v) and v >= 0 for v in counts)))
        )
    return False


def _bad_fields(entry, fields: dict) -> list:
    """The keys of ``entry`` that are missing or of a wrong type, as ``['bbox=[1, nan, 2, 3]', 'no id']``."""
    if not isinstance(entry, dict):
        return [f'type {type(entry).__name__}, not an object']
    bad = [f'no {key}' for key in fields if key not in entry]
    checks = {**fields, **_OPTIONAL}
    bad += [f'{key}={_clip(repr(entry[key]), 40)}' for key, ok in checks.items() if key in entry and not ok(entry[key])]
    return bad


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + '...'


def _show(entry) -> str:
    return f'id {entry["id"]!r}' if isinstance(entry, dict) and 'id' in entry else _clip(repr(entry), 60)


class CheckedCOCO(COCO):
    """mmdet's COCO API that names ``annotation_file`` in every error and checks the categories.

    Args:
        annotation_file: a COCO instances JSON file.
        classes: the dataset's class names; each must be a category name of the file.
        with_mask: the pipeline loads instance masks: every annotation of these classes needs a "segmentation".
    """

    def __init__(self, annotation_file: str, classes: Sequence[str] = (), with_mask: bool = False):
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
        if with_mask:
            self._check_masks(annotation_file, classes)
        self._report_skipped(annotation_file)

    def _check_layout(self, annotation_file: str) -> None:
        missing = [key for key in ('images', 'categories') if not isinstance(self.dataset.get(key), list)]
        if missing:
            raise DataError(
                f'COCO annotation file {annotation_file!r} has no list {missing} (keys: '
                f'{sorted(self.dataset)}); a COCO instances file needs "images", "annotations" and '
                f'"categories".'
            )
        for img in self.dataset['images']:
            bad = _bad_fields(img, IMAGE_FIELDS)
            if bad:
                raise DataError(
                    f'COCO annotation file {annotation_file!r}: image {_show(img)} has {bad}; every image needs '
                    f'id (int), file_name (str), width and height (positive ints, the pixel size of the file).'
                )
        for cat in self.dataset['categories']:
            bad = _bad_fields(cat, CATEGORY_FIELDS)
            if bad:
                raise DataError(
                    f'COCO annotation file {annotation_file!r}: category {_show(cat)} has {bad}; every category '
                    f'needs id (int) and name (str).'
                )
        for ann in self.dataset.get('annotations', []):
            bad = _bad_fields(ann, ANNOTATION_FIELDS)
            if bad:
                raise DataError(
                    f'COCO annotation file {annotation_file!r}: annotation {_show(ann)} has {bad}; every '
                    f'annotation needs id, image_id, category_id (ints), bbox ([x, y, width, height], finite '
                    f'numbers), area (a number), iscrowd (0 or 1; optional) and, for masks, segmentation.'
                )
        for section in ('images', 'annotations', 'categories'):
            ids = Counter(entry['id'] for entry in self.dataset.get(section, []))
            doubled = sorted(i for i, n in ids.items() if n > 1)
            if doubled:  # pycocotools keeps the last entry of an id; mmdet asserts on annotations without the file
                raise DataError(
                    f'COCO annotation file {annotation_file!r}: the ids {doubled[:5]} are used by more than one of '
                    f'its "{section}"; every entry of a section needs its own id.'
                )
        known = {cat['id'] for cat in self.dataset['categories']}
        unknown = sorted({ann['category_id'] for ann in self.dataset.get('annotations', [])} - known)
        if unknown:
            print_log(
                f'{annotation_file}: annotations refer to category ids {unknown[:5]} that are not in "categories"; '
                f'they are ignored.',
                logger='current',
                level=logging.WARNING,
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
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise DataError(
                f'COCO annotation file {annotation_file!r} names several categories {doubled}: each category '
                f'needs its own name (the classes are matched to the file by name).'
            )
        unknown = [c for c in classes if c not in names]
        if unknown:
            raise DataError(
                f"COCO annotation file {annotation_file!r} has the categories {names}, but the dataset's classes "
                f'[{shorten(unknown)}] are not among them ({len(unknown)} of {len(classes)}), so their annotations '
                f'would be dropped silently. Set metainfo=dict(classes={tuple(names)}) in the dataset config (and the '
                f"heads' num_classes={len(names)}), or fix the file's category names."
            )
        # mmdet labels class k with the k-th *file* category among the classes (pycocotools' getCatIds keeps the
        # file's order) while the model, the drawings and the per-class table name label k classes[k]: another
        # order would name every class wrongly, without a word.
        in_file_order = [n for n in names if n in classes]
        if list(classes) != in_file_order:
            raise DataError(
                f"COCO annotation file {annotation_file!r}: the dataset's classes {tuple(classes)} are not in the "
                f"order of the file's categories {tuple(in_file_order)}; mmdet numbers the classes in the file's "
                f'order, so every label would get another name. Set metainfo=dict(classes={tuple(in_file_order)}) '
                f'(the template configs: classes = {tuple(in_file_order)}).'
            )
        # mmdet 3.3's CocoMetric prints the per-class AP table in the order of its class list, but pycocotools'
        # COCOeval.evaluate sorts the category ids: with ids that are not ascending in the file's order, every
        # per-class AP would be printed under another class's name (the mean is right).
        ids = [cat['id'] for cat in self.dataset['categories'] if cat['name'] in classes]
        if ids != sorted(ids):
            order = ', '.join(f'{i} {n!r}' for i, n in sorted(zip(ids, in_file_order)))
            raise DataError(
                f'COCO annotation file {annotation_file!r}: the categories of the classes have the ids {ids}, not in '
                f"ascending order; mmdet's CocoMetric would print each per-class AP under another class's name. "
                f'List the categories in the file by ascending id ({order}) and the classes in that order.'
            )
        extra = [n for n in names if n not in classes]
        if extra:
            print_log(
                f"{annotation_file}: the categories [{shorten(extra)}] are not in the dataset's classes; their "
                f'annotations are not used.',
                logger='current',
                level=logging.WARNING,
            )

    def _check_masks(self, annotation_file: str, classes: Sequence[str]) -> None:
        """Masks are loaded for a mask head: box-only annotations would stop mmdet's ``LoadAnnotations`` with a
        bare ``KeyError: 'mask'`` in a dataloader worker (mmdet 2.x: ``gt_masks``)."""
        ids = {cat['id'] for cat in self.dataset['categories'] if cat['name'] in classes}
        anns = [ann for ann in self.dataset.get('annotations', []) if ann['category_id'] in ids]
        boxes_only = [ann['id'] for ann in anns if not ann.get('segmentation')]
        if boxes_only:
            raise DataError(
                f'COCO annotation file {annotation_file!r}: {len(boxes_only)} of {len(anns)} annotations have no '
                f'"segmentation" (e.g. ids {boxes_only[:3]}), but this config trains or evaluates masks (a mask head, '
                f"LoadAnnotations with_mask=True, CocoMetric metric 'segm'). For boxes-only data use a box-only "
                f'config: configs/detection/faster_rcnn_convnext_t_1x.py, cascade_rcnn_convnext_t_3x.py or the '
                f'template configs/detection/custom/faster_rcnn_convnext_t_custom.py; or add the masks to the file.'
            )
        bad = [ann['id'] for ann in anns if not _is_mask(ann['segmentation'])]
        if bad:
            raise DataError(
                f'COCO annotation file {annotation_file!r}: the "segmentation" of annotations {bad[:3]} is neither '
                f'polygons (a list of [x1, y1, x2, y2, ...] lists of numbers) nor RLE (a dict with "counts" and '
                f'"size" [height, width]).'
            )
        degenerate = [
            ann['id']
            for ann in anns
            if isinstance(ann['segmentation'], list)
            and not any(len(p) % 2 == 0 and len(p) >= 6 for p in ann['segmentation'])
        ]
        if degenerate:
            print_log(
                f'{annotation_file}: {len(degenerate)} annotations have no polygon of 3 points or more (e.g. ids '
                f'{degenerate[:3]}); mmdet makes them ignored regions, as for crowd annotations.',
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
        self.COCOAPI = partial(CheckedCOCO, classes=classes, with_mask=self._loads_masks())
        return super().load_data_list()

    def _loads_masks(self) -> bool:
        """Whether the pipeline's ``LoadAnnotations`` loads instance masks."""
        transforms = getattr(self.pipeline, 'transforms', [])
        return any(type(t).__name__ == 'LoadAnnotations' and getattr(t, 'with_mask', False) for t in transforms)

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
            data = super().prepare_data(idx)
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
        self._check_image_size(idx, data)
        return data

    def _check_image_size(self, idx: int, data) -> None:
        """The file's pixel size must be the json's: boxes and polygons are in the json's pixels, and mmdet filters
        boxes with the json's size but draws and resizes with the file's, so another size is silently wrong data."""
        samples = data.get('data_samples') if isinstance(data, dict) else None
        shape = getattr(samples, 'ori_shape', None) if samples is not None and not isinstance(samples, list) else None
        info = self.get_data_info(idx)
        if shape is not None and tuple(shape[:2]) != (info['height'], info['width']):
            raise DataError(
                f'image {info["img_path"]!r} is {shape[0]}x{shape[1]} (HxW) but {self.ann_file} gives it (id '
                f'{info["img_id"]}) height {info["height"]} and width {info["width"]}: fix the image entry of the '
                f'file (its boxes and masks are in its pixels), or replace the image.'
            )
