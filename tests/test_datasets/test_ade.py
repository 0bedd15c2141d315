"""Broken ADE20K-format data gets an error that names the file, the value and the fix."""

import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

import convnext_dense.datasets  # noqa: F401  (registers the checked datasets)
from convnext_dense.datasets.ade import check_seg_sample
from convnext_dense.datasets.synthetic.ade import split_files

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]


@pytest.fixture
def pristine(synthetic_set):
    return synthetic_set('ade', num_train=4, num_val=2, image_size=48, seed=0)


@pytest.fixture
def root(pristine, writable_copy):
    """A fresh copy of the small dataset that a test may break."""
    return writable_copy(pristine)


def build(root, type='SyntheticADE20KDataset', split='training'):
    init_default_scope('mmseg')
    return DATASETS.build(
        dict(
            type=type,
            data_root=root,
            pipeline=PIPELINE,
            data_prefix=dict(img_path=f'images/{split}', seg_map_path=f'annotations/{split}'),
        )
    )


def write_label(path, array):
    Image.fromarray(array).save(path)


def test_good_data_loads(root):
    dataset = build(root)
    assert len(dataset) == 4
    for i in range(len(dataset)):
        gt = dataset[i]['data_samples'].gt_sem_seg.data
        assert set(gt.unique().tolist()) <= {0, 1, 2, 3, 4, 255}


def test_missing_data_root(tmp_path):
    missing = str(tmp_path / 'nowhere' / 'ADEChallengeData2016')
    with pytest.raises(FileNotFoundError) as info:
        build(missing, type='CheckedADE20KDataset')
    message = str(info.value)
    assert osp.join(missing, 'images', 'training') in message
    assert 'data_root' in message and '--cfg-options' in message and 'ADEChallengeData2016' in message


def test_missing_annotation_folder(root):
    shutil.rmtree(osp.join(root, 'annotations', 'training'))
    with pytest.raises(FileNotFoundError, match='annotation folder .*annotations/training'):
        build(root)


def test_empty_image_folder(root):
    for name in os.listdir(osp.join(root, 'images', 'training')):
        os.remove(osp.join(root, 'images', 'training', name))
    with pytest.raises(FileNotFoundError, match="no '.jpg' image in .*images/training"):
        build(root)


def test_image_without_label(root):
    img_path, seg_path = split_files(root, 'train')[2]
    os.remove(seg_path)
    with pytest.raises(FileNotFoundError) as info:
        build(root)
    assert img_path in str(info.value) and seg_path in str(info.value)


def test_label_value_outside_the_classes(root):
    _, seg_path = split_files(root, 'train')[1]
    label = np.asarray(Image.open(seg_path)).copy()
    label[:3, :3] = 6  # the synthetic set has 5 classes: 1..5 on disk, 0 = other
    write_label(seg_path, label)
    dataset = build(root)  # building lists files only; the label is checked when first loaded
    dataset[0]
    with pytest.raises(ValueError) as info:
        dataset[1]
    message = str(info.value)
    assert seg_path in message and '[6]' in message and '1..5' in message and '255 = ignore' in message


def test_ignore_value_255_is_allowed(root):
    _, seg_path = split_files(root, 'train')[1]
    label = np.asarray(Image.open(seg_path)).copy()
    label[:5, :5] = 255
    write_label(seg_path, label)
    gt = build(root)[1]['data_samples'].gt_sem_seg.data[0]
    assert (gt[:5, :5] == 255).all()


def test_label_size_differs_from_image(root):
    img_path, seg_path = split_files(root, 'train')[3]
    label = np.asarray(Image.open(seg_path))
    write_label(seg_path, label[:-2, :])
    h, w = label.shape
    with pytest.raises(ValueError) as info:
        build(root)[3]
    message = str(info.value)
    assert seg_path in message and img_path in message
    assert f'{h - 2}x{w}' in message and f'{h}x{w}' in message


def test_colour_label(root):
    _, seg_path = split_files(root, 'train')[0]
    label = np.asarray(Image.open(seg_path))
    write_label(seg_path, np.stack([label] * 3, axis=-1))
    with pytest.raises(ValueError, match='one-channel PNG of class indices'):
        build(root)[0]


def test_sixteen_bit_label_is_not_wrapped(tmp_path):
    """mmseg casts labels to uint8: 300 would silently become 44. The check sees the raw value."""
    img_path, seg_path = str(tmp_path / 'a.jpg'), str(tmp_path / 'a.png')
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img_path)
    Image.fromarray(np.full((8, 8), 300, np.uint16)).save(seg_path)
    with pytest.raises(ValueError, match=r'\[300\]'):
        check_seg_sample(img_path, seg_path, num_classes=150, reduce_zero_label=True)


@pytest.mark.parametrize('value, ok', [(150, True), (0, True), (255, True), (151, False), (200, False)])
def test_ade20k_150_classes(tmp_path, value, ok):
    """Real ADE20K labels: 0 = other, 1..150 the classes, 255 ignore; anything else is an error."""
    img_path, seg_path = str(tmp_path / 'a.jpg'), str(tmp_path / 'a.png')
    Image.fromarray(np.zeros((6, 9, 3), np.uint8)).save(img_path)
    label = np.ones((6, 9), np.uint8)
    label[2, 3] = value
    Image.fromarray(label).save(seg_path)
    if ok:
        check_seg_sample(img_path, seg_path, num_classes=150, reduce_zero_label=True)
    else:
        with pytest.raises(ValueError, match=rf'\[{value}\] outside the 150 classes'):
            check_seg_sample(img_path, seg_path, num_classes=150, reduce_zero_label=True)


def test_plain_mmseg_is_silent_about_what_we_check(root):
    """Why the checked dataset exists: mmseg 1.2.2's own ADE20K dataset loads these without a word.

    If a later mmseg starts rejecting them, this test fails and our checks can go.
    """
    _, bad_value = split_files(root, 'train')[0]
    label = np.asarray(Image.open(bad_value)).copy()
    label[0, 0] = 151  # outside ADE20K's 150 classes
    write_label(bad_value, label)
    _, bad_size = split_files(root, 'train')[1]
    write_label(bad_size, np.asarray(Image.open(bad_size))[:-2, :])
    init_default_scope('mmseg')
    plain = DATASETS.build(
        dict(
            type='ADE20KDataset',
            data_root=root,
            pipeline=PIPELINE,
            data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        )
    )
    sample = plain[0]['data_samples']
    assert sample.gt_sem_seg.data[0, 0, 0] == 150  # an index past the 150 classes (0..149), silently
    sample = plain[1]['data_samples']
    assert tuple(sample.gt_sem_seg.shape) != tuple(sample.ori_shape)  # label and image differ, silently
    with pytest.raises(ValueError, match='151'):
        build(root, type='CheckedADE20KDataset')[0]
