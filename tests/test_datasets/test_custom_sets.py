"""Your own classes in the segmentation and image-folder datasets: CheckedSegDataset checks label values against
*its* classes (not ADE20K's 150), and an image folder may hold a class without val images when the classes are
given."""

import numpy as np
import pytest
from custom_sets import CLS_CLASSES, SEG_CLASSES, write_cls, write_seg
from mmengine.registry import init_default_scope
from PIL import Image

import convnext_dense  # noqa: F401
from convnext_dense.datasets import ImageFolderDataset
from convnext_dense.errors import ConfigError, DataError


def seg_dataset(root, classes=SEG_CLASSES, **kwargs):
    from mmseg.registry import DATASETS

    init_default_scope('mmseg')
    meta = dict(classes=classes, palette=[(i, i, i) for i in range(len(classes))]) if classes else None
    return DATASETS.build(
        dict(
            type='CheckedSegDataset',
            data_root=root,
            data_prefix=dict(img_path='images/train', seg_map_path='annotations/train'),
            metainfo=meta,
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')],
            **kwargs,
        )
    )


def test_seg_labels_load_as_written(tmp_path):
    write_seg(str(tmp_path), num_train=2, num_val=1)
    ds = seg_dataset(str(tmp_path))
    for i in range(len(ds)):
        sample = ds[i]['data_samples']
        want = np.asarray(Image.open(sample.seg_map_path))
        assert np.array_equal(sample.gt_sem_seg.data[0].numpy(), want)
    assert ds.metainfo['classes'] == SEG_CLASSES


def test_seg_value_beyond_own_classes_is_named(tmp_path):
    """Value 2 is valid for ADE20K's 150 classes but not for two classes of one's own."""
    write_seg(str(tmp_path), num_train=2, num_val=1)
    ds = seg_dataset(str(tmp_path), classes=SEG_CLASSES[:2])
    with pytest.raises(DataError, match=r"0000.png' holds value\(s\) \[2\] outside the 2 classes"):
        ds[0]


def test_seg_dataset_without_classes_is_a_config_error(tmp_path):
    write_seg(str(tmp_path), num_train=1, num_val=1)
    with pytest.raises(ConfigError, match='CheckedSegDataset needs its classes'):
        seg_dataset(str(tmp_path), classes=None)


def test_a_class_without_val_images_loads_when_the_classes_are_given(tmp_path):
    write_cls(str(tmp_path), num_train=1, num_val=1, size=16)
    ds = ImageFolderDataset(str(tmp_path), 'val', classes=CLS_CLASSES, transform=dict(input_size=16))
    assert [d['gt_label'] for d in ds.load_data_list()] == [0, 1]  # circle, cross; 'square' has no val image
    with pytest.raises(DataError, match='holds no images'):  # without the classes, the empty folder is a mistake
        ImageFolderDataset(str(tmp_path), 'val', transform=dict(input_size=16))
