"""Shared fixtures: a tiny ConvNeXt config and a tiny generated image folder (classification)."""
import pytest

from convnext_dense.datasets.synthetic import generate_imagefolder

TINY_ARCH = dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64])


@pytest.fixture
def tiny_backbone():
    return dict(type='ConvNeXt', arch=dict(TINY_ARCH))


@pytest.fixture(scope='session')
def tiny_folder(tmp_path_factory):
    """2 classes x (4 train + 2 val) images of 32x32, written once per session."""
    root = tmp_path_factory.mktemp('tiny_cls')
    generate_imagefolder(str(root), num_classes=2, num_train_per_class=4, num_val_per_class=2, image_size=32, seed=0)
    return str(root)
