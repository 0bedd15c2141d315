"""A user's own COCO file: boxes only, category ids that are not 1..N, a category without instances, an image
without annotations, classes named in another order.

The AP oracle is pycocotools' COCOeval on detections the test converts to COCO results itself (label k -> the id
of the category *named* classes[k] in the file), so a wrong label -> category mapping in mmdet's CocoMetric or
the dataset would change the AP.
"""

import json
import os.path as osp

import numpy as np
import pytest
from custom_sets import COCO_CATEGORIES, COCO_CLASSES, jittered_predictions, write_coco
from mmdet.evaluation import CocoMetric
from mmdet.registry import DATASETS
from mmengine.registry import init_default_scope
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import convnext_dense  # noqa: F401
from convnext_dense.errors import DataError


@pytest.fixture(scope='module', autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


@pytest.fixture(scope='module')
def masks_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('own_coco'))
    write_coco(root, with_masks=True)
    return root


@pytest.fixture(scope='module')
def boxes_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('own_coco_boxes'))
    write_coco(root, with_masks=False)
    return root


def build(root, split='val', with_mask=True, classes=COCO_CLASSES, test_mode=True, ann_file=None):
    return DATASETS.build(
        dict(
            type='CheckedCocoDataset',
            data_root=root,
            ann_file=ann_file or f'annotations/{split}.json',
            data_prefix=dict(img=f'{split}/'),
            metainfo=dict(classes=classes),
            test_mode=test_mode,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=with_mask),
                dict(type='PackDetInputs'),
            ],
        )
    )


def test_box_only_file_with_a_mask_head_names_the_file_and_the_box_only_configs(boxes_set):
    with pytest.raises(DataError) as info:
        build(boxes_set, 'train', with_mask=True, test_mode=False)
    message = str(info.value)
    assert osp.join(boxes_set, 'annotations/train.json') in message and 'no "segmentation"' in message
    assert 'faster_rcnn_convnext_t_1x.py' in message and 'custom/faster_rcnn_convnext_t_custom.py' in message


def test_box_only_file_loads_for_a_box_only_config(boxes_set):
    """Every box of the file, in pixels (xyxy), with the label of its category's *name*; the empty image kept."""
    ds = build(boxes_set, 'val', with_mask=False)
    with open(osp.join(boxes_set, 'annotations', 'val.json')) as f:
        coco = json.load(f)
    label_of = {cat_id: COCO_CLASSES.index(name) for cat_id, name in COCO_CATEGORIES}
    assert len(ds) == len(coco['images'])
    for i in range(len(ds)):
        sample = ds[i]['data_samples']
        anns = [a for a in coco['annotations'] if a['image_id'] == sample.img_id]
        expected = [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)]
        assert sample.gt_instances.bboxes.tensor.tolist() == expected
        assert sample.gt_instances.labels.tolist() == [label_of[a['category_id']] for a in anns]
    assert any(len(ds[i]['data_samples'].gt_instances) == 0 for i in range(len(ds)))  # the empty image


def test_classes_in_another_order_than_the_file_are_an_error(masks_set):
    with pytest.raises(DataError, match=r"not in the order of the file's categories \('zebra', 'apple'"):
        build(masks_set, classes=('apple', 'zebra', 'mango', 'kiwi'))
    build(masks_set, classes=('zebra', 'mango'))  # a subset in the file's order is fine


def test_two_categories_of_one_name_are_an_error(masks_set, tmp_path):
    with open(osp.join(masks_set, 'annotations', 'val.json')) as f:
        coco = json.load(f)
    coco['categories'][1]['name'] = 'zebra'
    path = tmp_path / 'doubled.json'
    path.write_text(json.dumps(coco))
    with pytest.raises(DataError, match=r"names several categories \['zebra'\]"):
        build(masks_set, ann_file=str(path))


def predictions(coco, rng):
    """Jittered ground truth plus false positives, labels as class indices; some of the class without instances."""
    return jittered_predictions(coco, rng, {cat_id: COCO_CLASSES.index(name) for cat_id, name in COCO_CATEGORIES})


def test_ap_equals_pycocotools_with_odd_ids_an_empty_category_and_an_empty_image(masks_set, tmp_path):
    ann_file = osp.join(masks_set, 'annotations', 'val.json')
    coco = COCO(ann_file)
    assert sorted(coco.getCatIds()) != list(range(1, len(COCO_CLASSES) + 1))
    assert coco.getImgIds(catIds=[40]) == [] and any(not coco.getAnnIds(imgIds=[i]) for i in coco.getImgIds())
    samples = predictions(coco, np.random.default_rng(0))
    metric = CocoMetric(ann_file=ann_file, metric='bbox', classwise=True, outfile_prefix=str(tmp_path / 'res'))
    metric.dataset_meta = dict(classes=COCO_CLASSES)
    metric.process({}, samples)
    results = metric.compute_metrics(metric.results)

    # the oracle: COCO results written here, category by name
    id_of = {name: cat_id for cat_id, name in COCO_CATEGORIES}
    dets = []
    for s in samples:
        p = s['pred_instances']
        for (x1, y1, x2, y2), score, label in zip(p['bboxes'].tolist(), p['scores'].tolist(), p['labels'].tolist()):
            dets.append(
                dict(
                    image_id=s['img_id'],
                    category_id=id_of[COCO_CLASSES[label]],
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    score=score,
                )
            )
    reference = COCOeval(coco, coco.loadRes(dets), 'bbox')
    reference.evaluate()
    reference.accumulate()
    reference.summarize()
    assert 0.05 < reference.stats[0] < 0.95
    assert results['bbox_mAP'] == round(reference.stats[0], 3)
    assert results['bbox_mAP_50'] == round(reference.stats[1], 3)
    precision = reference.eval['precision']
    for idx, cat_id in enumerate(sorted(coco.getCatIds())):  # COCOeval orders categories by id
        per_class = precision[:, :, idx, 0, -1]
        name = coco.cats[cat_id]['name']
        expected = round(float(np.mean(per_class[per_class > -1])), 3) if (per_class > -1).any() else None
        if expected is not None:
            assert results[f'{name}_precision'] == expected, name
    assert 'kiwi_precision' not in results or np.isnan(results['kiwi_precision'])  # no instance: no AP


def edited(root, tmp_path, change):
    with open(osp.join(root, 'annotations', 'val.json')) as f:
        coco = json.load(f)
    change(coco)
    path = tmp_path / 'edited.json'
    path.write_text(json.dumps(coco))
    return str(path)


def test_a_non_finite_box_is_named_with_its_annotation(masks_set, tmp_path):
    """mmdet keeps a NaN box (NaN < 1 is False) and the loss turns NaN; here the file and the id are named."""
    path = edited(masks_set, tmp_path, lambda c: c['annotations'][0]['bbox'].__setitem__(2, float('nan')))
    with pytest.raises(DataError, match=rf"{path}'?: annotation id \d+ has \['bbox=\[.*nan"):
        build(masks_set, ann_file=path)


def test_a_missing_area_is_named(masks_set, tmp_path):
    """mmdet reads ann['area'] and stops with a bare KeyError: 'area'."""
    path = edited(masks_set, tmp_path, lambda c: c['annotations'][1].pop('area'))
    with pytest.raises(DataError, match=r"annotation id \d+ has \['no area'\]"):
        build(masks_set, ann_file=path)


def test_an_image_of_another_size_than_the_file_says_is_named(masks_set, tmp_path):
    """Boxes and polygons are in the json's pixels: a file of another size is silently wrong data otherwise."""
    path = edited(masks_set, tmp_path, lambda c: c['images'][0].__setitem__('width', 64))
    ds = build(masks_set, ann_file=path)
    with pytest.raises(
        DataError, match=r'is 96x128 \(HxW\) but .*edited.json gives it \(id 500\) height 96 and width 64'
    ):
        ds[0]


def test_a_segmentation_that_is_neither_polygons_nor_rle_is_named(masks_set, tmp_path):
    path = edited(masks_set, tmp_path, lambda c: c['annotations'][0].__setitem__('segmentation', [1, 2, 3, 4, 5, 6]))
    with pytest.raises(DataError, match=r'annotations \[\d+\] is neither polygons'):
        build(masks_set, ann_file=path)


def test_categories_not_in_ascending_id_order_are_an_error(masks_set, tmp_path):
    """pycocotools sorts the ids; mmdet's per-class table follows the file: each AP would get another name."""
    path = edited(masks_set, tmp_path, lambda c: c['categories'].reverse())
    classes = tuple(reversed(COCO_CLASSES))
    with pytest.raises(DataError, match=r"ids \[40, 12, 7, 3\], not in ascending order.*\(3 'zebra', 7 'apple'"):
        build(masks_set, ann_file=path, classes=classes)


def test_two_images_of_one_id_are_an_error(masks_set, tmp_path):
    """pycocotools keeps the last image of an id: the first image's annotations would go to the other file."""
    path = edited(masks_set, tmp_path, lambda c: c['images'][1].__setitem__('id', c['images'][0]['id']))
    with pytest.raises(DataError, match=r'the ids \[500\] are used by more than one of its "images"'):
        build(masks_set, ann_file=path)
