"""Shared fixtures: a tiny ConvNeXt config, small synthetic datasets made once per session, writable copies."""

import os
import os.path as osp
import shutil

import pytest

if os.environ.get('PYTEST_XDIST_WORKER'):
    # `make test` runs one xdist worker per core: one torch thread each (and in the tools the tests start), so
    # that the workers do not oversubscribe the cores.
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    import torch

    torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))

TINY_ARCH = dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64])


@pytest.fixture
def tiny_backbone():
    return dict(type='ConvNeXt', arch=dict(TINY_ARCH))


@pytest.fixture(scope='session')
def tiny_folder(synthetic_set):
    """2 classes x (4 train + 2 val) images of 32x32, written once per session."""
    return synthetic_set('cls', num_classes=2, num_train_per_class=4, num_val_per_class=2, image_size=32, seed=0)


@pytest.fixture(scope='session')
def synthetic_set(tmp_path_factory):
    """``synthetic_set(kind, **arguments)``: the folder of a synthetic set (``kind`` 'coco', 'ade' or 'cls', the
    arguments of its generator), made once per session for each distinct call. Never modify it: tests that
    break files work on ``writable_copy(folder)``."""
    from convnext_dense.datasets.synthetic import generate_ade, generate_coco, generate_imagefolder

    generators = dict(coco=generate_coco, ade=generate_ade, cls=generate_imagefolder)
    made = {}

    def make(kind, **arguments):
        key = (kind, tuple(sorted(arguments.items())))
        if key not in made:
            made[key] = str(tmp_path_factory.mktemp(f'synthetic_{kind}'))
            generators[kind](made[key], **arguments)
        return made[key]

    return make


@pytest.fixture
def writable_copy(tmp_path):
    """``writable_copy(folder)``: a fresh copy of ``folder`` under this test's tmp_path, free to break."""

    def copy(folder):
        return shutil.copytree(folder, osp.join(str(tmp_path), 'copy_' + osp.basename(folder)))

    return copy
