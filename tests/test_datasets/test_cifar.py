"""CIFAR100Dataset on a tiny file in the release's exact layout: cifar-100-python/{train,test,meta}, written as the
release was (Python 2 cPickle, protocol 2: dict keys and strings are Python 2 ``str``, read back as ``b'data'``
with ``encoding='bytes'``; ``data`` a uint8 N x 3072 array of the red, green and blue 32x32 planes)."""

import io
import os
import os.path as osp
import pickle
import struct

import numpy as np
import pytest
import torch

from convnext_dense.datasets import CIFAR100Dataset
from convnext_dense.errors import ConfigError, DataError, MissingFileError


class _Python2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2's ``str`` (SHORT_BINSTRING / BINSTRING), as cPickle wrote the release."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj):
        n = len(obj)
        self.write(
            pickle.SHORT_BINSTRING + bytes([n]) + obj if n < 256 else pickle.BINSTRING + struct.pack('<i', n) + obj
        )
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def _dump(obj, path):
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    with open(path, 'wb') as f:
        f.write(buffer.getvalue())


FINE = [b'apple', b'bear', b'cloud']


def _write_release(root, n_train=5, n_test=3, seed=0):
    """The three files of the python release with random images; returns {split: (data N x 3072, fine labels)}."""
    rng = np.random.default_rng(seed)
    folder = osp.join(root, 'cifar-100-python')
    os.makedirs(folder)
    made = {}
    for split, n in (('train', n_train), ('test', n_test)):
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        fine = [int(x) for x in rng.integers(0, len(FINE), size=n)]
        _dump(
            {
                b'filenames': [b'img_%d.png' % i for i in range(n)],
                b'batch_label': split.encode() + b' batch 1 of 1',
                b'fine_labels': fine,
                b'coarse_labels': [label // 2 for label in fine],
                b'data': data,
            },
            osp.join(folder, split),
        )
        made[split] = (data, fine)
    _dump({b'fine_label_names': FINE, b'coarse_label_names': [b'fruit', b'sky']}, osp.join(folder, 'meta'))
    return made


@pytest.fixture
def release(tmp_path):
    return str(tmp_path), _write_release(str(tmp_path))


def test_the_written_files_have_the_release_layout(release):
    root, made = release
    with open(osp.join(root, 'cifar-100-python', 'train'), 'rb') as f:
        entry = pickle.load(f, encoding='bytes')  # how the CIFAR page says to read it in Python 3
    assert set(entry) == {b'filenames', b'batch_label', b'fine_labels', b'coarse_labels', b'data'}
    assert entry[b'data'].dtype == np.uint8 and entry[b'data'].shape == (5, 3072)
    assert np.array_equal(entry[b'data'], made['train'][0])


@pytest.mark.parametrize('split', ['train', 'test'])
def test_images_and_labels_round_trip(release, split):
    root, made = release
    ds = CIFAR100Dataset(root, split=split, transform=dict(input_size=32, crop_pct=1.0), check_md5=False)
    data, fine = made[split]
    assert len(ds) == len(fine) and ds.metainfo['classes'] == ('apple', 'bear', 'cloud')
    for i in range(len(ds)):
        item = ds[i]
        # The release: 1024 red values, then green, then blue, each row-major 32x32.
        expected = torch.from_numpy(data[i].reshape(3, 32, 32))
        assert item['inputs'].dtype == torch.uint8 and torch.equal(item['inputs'], expected)
        assert int(item['data_samples'].gt_label) == fine[i]


def test_the_cifar_folder_itself_is_accepted_as_data_root(release):
    root, made = release
    ds = CIFAR100Dataset(
        osp.join(root, 'cifar-100-python'), split='test', transform=dict(input_size=32), check_md5=False
    )
    assert len(ds) == len(made['test'][1])


def test_upsampled_to_the_recipe_input_size(release):
    root, _ = release
    train = CIFAR100Dataset(
        root, transform=dict(input_size=224, is_training=True, interpolation='bicubic'), check_md5=False
    )
    test = CIFAR100Dataset(root, split='test', transform=dict(input_size=224, crop_pct=1.0), check_md5=False)
    assert train[0]['inputs'].shape == test[0]['inputs'].shape == (3, 224, 224)


def test_missing_file_names_the_folder_and_how_to_get_it(tmp_path):
    with pytest.raises(MissingFileError) as info:
        CIFAR100Dataset(str(tmp_path / 'nowhere'), split='test', check_md5=False)
    message = str(info.value)
    assert osp.join(str(tmp_path / 'nowhere'), 'cifar-100-python') in message
    assert "['test', 'meta']" in message and 'download=True' in message


def test_a_file_that_is_not_the_release_is_refused_by_md5(release):
    root, _ = release
    with pytest.raises(DataError, match=r'md5 is not .*check_md5=False'):
        CIFAR100Dataset(root, split='test')


def test_a_file_in_another_format_is_a_data_error(release):
    root, _ = release
    with open(osp.join(root, 'cifar-100-python', 'test'), 'wb') as f:
        pickle.dump({'pixels': [1, 2, 3]}, f)
    with pytest.raises(DataError, match='cannot read'):
        CIFAR100Dataset(root, split='test', check_md5=False)


def test_unknown_split(tmp_path):
    with pytest.raises(ConfigError, match="split='val'"):
        CIFAR100Dataset(str(tmp_path), split='val')
