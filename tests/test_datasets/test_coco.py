"""Bad COCO inputs give clear errors (file and fix named), odd but valid ones are handled, and
CocoMetric's AP is pycocotools' AP."""

import copy
import json
import os.path as osp
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from custom_sets import jittered_predictions
from mmdet.evaluation import CocoMetric
from mmdet.registry import DATASETS, HOOKS, MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config, ConfigDict
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import convnext_dense  # noqa: F401
from convnext_dense.apis import rebase_data_root
from convnext_dense.datasets.synthetic.coco import CLASSES
from convnext_dense.engine import CocoOutfileHook
from convnext_dense.models import InstanceTTAModel

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'detection', 'demo', 'cascade_convnext_demo.py')


@pytest.fixture(scope='module', autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


@pytest.fixture
def source(synthetic_set):
    """A small synthetic COCO dataset, never modified (tests copy it)."""
    return synthetic_set('coco', num_train=6, num_val=6, image_size=64, seed=1, empty_prob=0.3)


@pytest.fixture
def data(source, writable_copy):
    return writable_copy(source)


def build(root, split='val', test_mode=True, classes=CLASSES, **kwargs):
    cfg = dict(
        type='CheckedCocoDataset',
        data_root=root,
        ann_file=f'annotations/instances_{split}.json',
        data_prefix=dict(img=f'{split}/'),
        test_mode=test_mode,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='PackDetInputs'),
        ],
    )
    if classes is not None:
        cfg['metainfo'] = dict(classes=classes)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def edit_annotations(root, split, change):
    path = osp.join(root, 'annotations', f'instances_{split}.json')
    with open(path) as f:
        coco = json.load(f)
    change(coco)
    with open(path, 'w') as f:
        json.dump(coco, f)
    return path


# ----------------------------------------------------------------------------------- broken inputs
def test_missing_annotation_file(data):
    path = osp.join(data, 'annotations', 'instances_val.json')
    shutil.move(path, path + '.bak')
    with pytest.raises(FileNotFoundError, match=r'instances_val\.json.*does not exist.*data_root'):
        build(data)


def test_malformed_annotation_file(data):
    path = osp.join(data, 'annotations', 'instances_val.json')
    with open(path) as f:
        text = f.read()
    with open(path, 'w') as f:
        f.write(text[: len(text) // 2])  # truncated
    with pytest.raises(ValueError, match=r'instances_val\.json.*not valid JSON'):
        build(data)


def test_annotation_file_without_categories(data):
    edit_annotations(data, 'val', lambda coco: coco.pop('categories'))
    with pytest.raises(ValueError, match=r"instances_val\.json.*\['categories'\]"):
        build(data)


def test_annotation_without_bbox_is_named(data):
    edit_annotations(data, 'val', lambda coco: coco['annotations'][0].pop('bbox'))
    with pytest.raises(ValueError, match=r"instances_val\.json': annotation id 1 has \['no bbox'\]"):
        build(data)


def test_classes_missing_from_the_file_are_an_error(data):
    # The default metainfo is COCO's 80 classes: mmdet alone would silently drop every annotation.
    with pytest.raises(ValueError, match=r"instances_val\.json.*classes.*metainfo=dict\(classes=\('circle'"):
        build(data, classes=None)


def test_missing_image_folder(data):
    shutil.rmtree(osp.join(data, 'val'))
    with pytest.raises(FileNotFoundError, match=r'image folder .*val/.*does not exist'):
        build(data)


def test_missing_and_corrupt_images_are_named(data):
    dataset = build(data)
    first, second = dataset.get_data_info(0)['img_path'], dataset.get_data_info(1)['img_path']
    with open(first, 'wb') as f:
        f.write(b'this is not a jpeg')
    with pytest.raises(ValueError, match=rf'{first}.*cannot be decoded.*corrupt'):
        dataset[0]
    shutil.move(second, second + '.bak')
    with pytest.raises(FileNotFoundError, match=rf'{second}.*does not exist'):
        dataset[1]


def test_training_set_left_empty_by_the_filter(data):
    edit_annotations(data, 'train', lambda coco: coco.update(annotations=[]))
    with pytest.raises(ValueError, match=r'instances_train\.json: no training image is left.*filter_empty_gt'):
        build(data, split='train', test_mode=False, filter_cfg=dict(filter_empty_gt=True))


# ------------------------------------------------------------------------------- odd, valid inputs
def test_empty_images_kept_for_testing_and_dropped_for_training(data):
    coco = COCO(osp.join(data, 'annotations', 'instances_train.json'))
    with_objects = {a['image_id'] for a in coco.dataset['annotations']}
    assert len(with_objects) < len(coco.imgs), 'the fixture needs empty images'
    assert len(build(data, split='train', test_mode=True)) == len(coco.imgs)
    train = build(data, split='train', test_mode=False, filter_cfg=dict(filter_empty_gt=True))
    assert {train.get_data_info(i)['img_id'] for i in range(len(train))} == with_objects
    every = build(data, split='train')
    empty_index = next(i for i in range(len(every)) if every.get_data_info(i)['instances'] == [])
    sample = every[empty_index]['data_samples']
    assert len(sample.gt_instances) == 0


def test_crowd_and_zero_area_annotations(data):
    def change(coco):
        first_image = coco['annotations'][0]['image_id']
        for ann in coco['annotations']:
            if ann['image_id'] == first_image:
                ann['iscrowd'] = 1
        coco['annotations'][-1]['area'] = 0
        coco['annotations'][-1]['bbox'][2] = 0

    edit_annotations(data, 'train', change)
    raw = json.load(open(osp.join(data, 'annotations', 'instances_train.json')))
    crowd_image = raw['annotations'][0]['image_id']
    zero_id = raw['annotations'][-1]['id']
    dataset = build(data, split='train', test_mode=False, filter_cfg=dict(filter_empty_gt=True))
    infos = {dataset.get_data_info(i)['img_id']: dataset.get_data_info(i) for i in range(len(dataset))}
    # an all-crowd image stays, its boxes become ignored regions (not training targets)
    assert infos[crowd_image]['instances'] and all(inst['ignore_flag'] == 1 for inst in infos[crowd_image]['instances'])
    index = list(infos).index(crowd_image)
    sample = dataset[index]['data_samples']
    assert len(sample.gt_instances) == 0 and len(sample.ignored_instances) > 0
    # the zero-area annotation is skipped
    zero_image = raw['annotations'][-1]['image_id']
    n_valid = sum(a['image_id'] == zero_image and a['id'] != zero_id for a in raw['annotations'])
    if zero_image in infos:
        assert len(infos[zero_image]['instances']) == n_valid


@pytest.fixture(scope='module')
def demo_model():
    cfg = Config.fromfile(DEMO)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    return model


def test_model_trains_on_empty_and_all_crowd_images(data, demo_model):
    def crowd_all(coco):
        for ann in coco['annotations']:
            ann['iscrowd'] = 1

    edit_annotations(data, 'val', crowd_all)
    dataset = build(data)  # test_mode keeps every image; all annotations are crowd now
    batch = [dataset[i] for i in range(3)]
    data_batch = dict(inputs=[b['inputs'] for b in batch], data_samples=[b['data_samples'] for b in batch])
    assert all(len(s.gt_instances) == 0 for s in data_batch['data_samples'])
    demo_model.train()
    losses = demo_model(**demo_model.data_preprocessor(data_batch, True), mode='loss')
    total, log_vars = demo_model.parse_losses(losses)
    assert torch.isfinite(total) and 'loss_rpn_cls' in log_vars
    total.backward()


def test_class_count_mismatch_is_an_error(data, demo_model):
    dataset = build(data, classes=CLASSES[:4])  # a 4-class dataset, 5-class heads
    hook = HOOKS.build(dict(type='NumClassCheckHook'))
    runner = SimpleNamespace(
        model=demo_model, train_dataloader=SimpleNamespace(dataset=dataset), logger=SimpleNamespace(warning=print)
    )
    with pytest.raises(AssertionError, match=r'num_classes.*\(5\).*does not match.*4'):
        hook.before_train_epoch(runner)
    runner.train_dataloader.dataset = build(data)
    hook.before_train_epoch(runner)  # 5 == 5: passes


# ------------------------------------------------------------------------------------- evaluation
def jittered_results(coco, rng):
    """Detections near every ground-truth box plus some false positives, as mmdet data samples (ids 1..N)."""
    return jittered_predictions(coco, rng, {cat_id: cat_id - 1 for cat_id in coco.getCatIds()}, jitter=0.08)


def test_coco_metric_equals_pycocotools(source, tmp_path):
    ann_file = osp.join(source, 'annotations', 'instances_val.json')
    coco = COCO(ann_file)
    metric = CocoMetric(ann_file=ann_file, metric='bbox', classwise=True, outfile_prefix=str(tmp_path / 'res'))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, jittered_results(coco, np.random.default_rng(0)))
    results = metric.compute_metrics(metric.results)

    detections = coco.loadRes(str(tmp_path / 'res.bbox.json'))
    reference = COCOeval(coco, detections, 'bbox')
    reference.evaluate()
    reference.accumulate()
    reference.summarize()
    assert 0.05 < reference.stats[0] < 0.95, 'the jitter should make AP non-trivial'
    # CocoMetric rounds to 3 decimals
    assert results['bbox_mAP'] == round(reference.stats[0], 3)
    assert results['bbox_mAP_50'] == round(reference.stats[1], 3)
    assert results['bbox_mAP_75'] == round(reference.stats[2], 3)
    # the per-category table: AP over IoU .5:.95, all areas, 100 detections, per class
    precision = reference.eval['precision']
    for idx, name in enumerate(CLASSES):
        per_class = precision[:, :, idx, 0, -1]
        assert results[f'{name}_precision'] == round(float(np.mean(per_class[per_class > -1])), 3)


# ------------------------------------------------------------------------- outfile hook, TTA, root
def test_outfile_hook_fills_the_run_folder(tmp_path):
    metric = SimpleNamespace(outfile_prefix='{log_dir}/coco_val')
    runner = SimpleNamespace(
        log_dir=str(tmp_path / 'run'),
        work_dir=str(tmp_path),
        timestamp='20250101_000000',
        val_loop=SimpleNamespace(evaluator=SimpleNamespace(metrics=[metric])),
    )
    CocoOutfileHook().before_val(runner)
    assert metric.outfile_prefix == str(tmp_path / 'run' / 'coco_val')
    metric.outfile_prefix = '{nope}/x'
    with pytest.raises(ValueError, match='nope'):
        CocoOutfileHook().before_val(runner)


def _view(boxes, scores, masks, flip):
    sample = DetDataSample(metainfo=dict(ori_shape=(8, 10), flip=flip, flip_direction='horizontal' if flip else None))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32),
        scores=torch.tensor(scores),
        labels=torch.zeros(len(scores), dtype=torch.long),
        masks=masks,
    )
    return sample


class _Detector(torch.nn.Module):
    def test_step(self, data):  # BaseTTAModel only checks that the wrapped model has one
        raise NotImplementedError


def test_tta_merges_boxes_and_unflips_masks():
    tta = InstanceTTAModel(
        module=_Detector(), tta_cfg=ConfigDict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=10)
    )
    mask = torch.zeros(1, 8, 10, dtype=torch.bool)
    mask[0, 2:5, 1:4] = True  # the object at x 1..3
    plain = _view([[1.0, 2.0, 4.0, 5.0]], [0.6], mask, flip=False)
    flipped = _view([[6.0, 2.0, 9.0, 5.0]], [0.9], mask.flip(-1), flip=True)  # the same object, seen flipped
    merged = tta.merge_preds([[plain, flipped]])[0].pred_instances
    assert len(merged) == 1 and merged.scores.item() == pytest.approx(0.9)
    assert torch.allclose(merged.bboxes, torch.tensor([[1.0, 2.0, 4.0, 5.0]]))
    assert torch.equal(merged.masks, mask)  # the flipped view's mask, flipped back


def test_data_root_override_reaches_datasets_and_evaluators():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'detection', 'cascade_convnext_t_3x.py'))
    old = cfg.data_root
    cfg.merge_from_dict({'data_root': '/datasets/coco'})
    assert rebase_data_root(cfg, old, cfg.data_root) == 5
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == '/datasets/coco/'
    for evaluator in ('val_evaluator', 'test_evaluator'):
        assert cfg[evaluator].ann_file == '/datasets/coco/annotations/instances_val2017.json'


def test_cfg_options_data_root_in_load_config():
    from convnext_dense.apis import load_config

    cfg = load_config(
        osp.join(ROOT, 'configs', 'detection', 'cascade_convnext_t_3x.py'),
        copy.deepcopy({'data_root': '/datasets/coco/'}),
    )
    assert cfg.val_evaluator.ann_file == '/datasets/coco/annotations/instances_val2017.json'
    assert cfg.train_dataloader.dataset.data_root == '/datasets/coco/'
