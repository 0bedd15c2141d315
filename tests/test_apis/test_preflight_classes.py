"""The preflight compares a config's class names with the COCO file's categories and samples label maps against
the class count (convnext_dense/apis/preflight_data.py), on the custom-data templates as a user edits them."""

import os.path as osp
import re
import shutil

import numpy as np
import pytest
from custom_sets import COCO_CLASSES, SEG_CLASSES, write_coco, write_seg
from PIL import Image

import convnext_dense  # noqa: F401
from convnext_dense.apis import load_config
from convnext_dense.apis.preflight import PreflightError, preflight

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def edited_template(tmp_path, template, data_root, classes):
    tree = shutil.copytree(osp.join(REPO, 'configs'), tmp_path / 'configs')
    path = tree / osp.dirname(template) / 'mine.py'
    text = (tree / template).read_text()
    text = re.sub(r'^data_root = .*$', f'data_root = {data_root!r}', text, flags=re.M)
    text = re.sub(r'^classes = .*$', f'classes = {classes!r}', text, flags=re.M)
    if 'palette' in text:
        text = re.sub(r'^palette = .*$', f'palette = {[(i, i, i) for i in range(len(classes))]!r}', text, flags=re.M)
    path.write_text(text)
    return str(path)


def class_problems(path):
    cfg = load_config(path, {'optim_wrapper.type': 'OptimWrapper', 'model.backbone.init_cfg': None})
    try:
        preflight(cfg, path, 'train')
    except PreflightError as e:
        return [text for topic, text in e.problems if topic == 'classes']
    return []


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco')) + '/'
    write_coco(root, num_train=2, num_val=2)
    return root


@pytest.fixture(scope='module')
def seg_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('seg'))
    write_seg(root, num_train=2, num_val=1)
    return root


def test_names_of_the_file_in_its_order_pass(coco_root, tmp_path):
    path = edited_template(tmp_path, 'detection/custom/mask_rcnn_convnext_t_custom.py', coco_root, COCO_CLASSES)
    assert class_problems(path) == []


def test_a_name_not_in_the_file_is_named_with_the_file(coco_root, tmp_path):
    classes = ('zebra', 'aple', 'mango', 'kiwi')
    path = edited_template(tmp_path, 'detection/custom/faster_rcnn_convnext_t_custom.py', coco_root, classes)
    problems = class_problems(path)
    assert len(problems) == 2  # train and val files
    assert "['aple'] are not among them" in problems[0] and osp.join(coco_root, 'annotations/train.json') in problems[0]
    assert f'classes = {COCO_CLASSES[:1] + COCO_CLASSES[2:]}' in problems[0]


def test_names_in_another_order_are_named_with_the_order_to_use(coco_root, tmp_path):
    classes = ('apple', 'zebra', 'mango', 'kiwi')
    path = edited_template(tmp_path, 'detection/custom/mask_rcnn_convnext_t_custom.py', coco_root, classes)
    problems = class_problems(path)
    assert problems and 'are listed in another order' in problems[0]
    assert f'classes = {COCO_CLASSES}' in problems[0]


def test_label_values_fit_the_classes(seg_root, tmp_path):
    path = edited_template(tmp_path, 'segmentation/custom/upernet_convnext_t_custom.py', seg_root, SEG_CLASSES)
    assert class_problems(path) == []


def test_a_label_value_beyond_the_classes_names_the_file(seg_root, tmp_path):
    path = edited_template(tmp_path, 'segmentation/custom/upernet_convnext_t_custom.py', seg_root, SEG_CLASSES[:2])
    problems = class_problems(path)
    assert problems and 'holds the values [2]' in problems[0] and 'outside the 2 classes' in problems[0]
    assert osp.join(seg_root, 'annotations', 'train', '0000.png') in problems[0]


def test_reduce_zero_label_shifts_the_valid_values(tmp_path):
    """With reduce_zero_label=True, value 3 is the third class of three (0 = unlabelled): no problem."""
    root = str(tmp_path / 'data')
    write_seg(root, num_train=1, num_val=1)
    label = osp.join(root, 'annotations', 'train', '0000.png')
    values = np.asarray(Image.open(label)).copy()
    values[values != 255] += 1
    Image.fromarray(values).save(label)
    path = edited_template(tmp_path, 'segmentation/custom/upernet_convnext_t_custom.py', root, SEG_CLASSES)
    text = open(path).read().replace('reduce_zero_label = False', 'reduce_zero_label = True')
    open(path, 'w').write(text)
    assert class_problems(path) == []
