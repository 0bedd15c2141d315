"""CIFAR-100 in its standard python-pickle release, with the classification configs' timm transforms.

The release (https://www.cs.toronto.edu/~kriz/cifar.html, ``cifar-100-python.tar.gz``) unpacks to
``cifar-100-python/{train,test,meta}``: pickled dicts with ``b'data'`` (uint8, N x 3072, the red, green and
blue 32x32 planes of each image in turn), ``b'fine_labels'`` and ``b'coarse_labels'``; ``meta`` holds
``b'fine_label_names'``. It is read by torchvision's own reader, :class:`torchvision.datasets.CIFAR100`;
what is added here is what the project's datasets all have: a missing file named with the fix, an
optional md5 check with its own message, and the item format of :class:`ImageFolderDataset` (uint8 CHW
tensors from timm's :func:`~timm.data.create_transform`, normalised batched in
:class:`~convnext_dense.models.ClsDataPreprocessor`), so a config swaps the dataset and nothing else. The
images are upsampled to the recipe's input size by that transform (bicubic ``RandomResizedCrop`` to 224
for training; resize and centre crop for evaluation, as the config's ``transform`` says).
"""

import os.path as osp
from typing import List, Optional

import torch
from mmengine.dataset import BaseDataset
from mmengine.registry import DATASETS
from mmengine.structures import BaseDataElement
from PIL import Image
from timm.data import create_transform
from torchvision.datasets import CIFAR100
from torchvision.datasets.utils import check_integrity

from ..errors import ConfigError, DataError, MissingFileError
from .imagefolder import _PREPROCESSOR_KEYS, _allow_zero_bit_posterize

__all__ = ['CIFAR100Dataset']

SPLITS = ('train', 'test')


class _UncheckedCIFAR100(CIFAR100):
    """torchvision's reader with the md5 sums left out: :class:`CIFAR100Dataset` checks the files first (their
    presence always, the release's md5 when asked), so that a missing file gets a message that names it and
    a subset written in the same format (the tests' tiny files) can be read."""

    train_list = [[name, None] for name, _ in CIFAR100.train_list]
    test_list = [[name, None] for name, _ in CIFAR100.test_list]
    meta = dict(CIFAR100.meta, md5=None)


@DATASETS.register_module()
class CIFAR100Dataset(BaseDataset):
    """CIFAR-100 (the python release), 100 fine classes, as classification items.

    Args:
        data_root: the folder that holds ``cifar-100-python/`` (torchvision's ``root``), e.g. ``data/cifar100``;
            the ``cifar-100-python`` folder itself is accepted too.
        split: ``'train'`` (50000 images) or ``'test'`` (10000).
        transform: keyword arguments of :func:`timm.data.create_transform`, as for
            :class:`~convnext_dense.datasets.ImageFolderDataset`, e.g. ``dict(input_size=224,
            is_training=True, interpolation='bicubic')``: the 32x32 images are upsampled to ``input_size``.
        check_md5: compare the files with the release's md5 sums (torchvision's); False reads any file in
            the release's format (a subset, a re-pickled copy).
        **kwargs: passed to :class:`~mmengine.dataset.BaseDataset` (``indices``, ``test_mode``, ...).

    Each item is ``dict(inputs=uint8 tensor (3, H, W), data_samples=BaseDataElement(gt_label))``; the
    metainfo's ``classes`` are the file's ``fine_label_names``.

    Raises:
        MissingFileError: a file of the release is missing (named, with where to get it).
        DataError: a file does not match the release's md5 (``check_md5=True``) or cannot be unpickled.
        ConfigError: an unknown ``split``, or a ``transform`` option of the data preprocessor.
    """

    def __init__(
        self,
        data_root: str = 'data/cifar100',
        split: str = 'train',
        transform: Optional[dict] = None,
        check_md5: bool = True,
        **kwargs,
    ):
        if split not in SPLITS:
            raise ConfigError(f'CIFAR100Dataset: split={split!r}; the release has {SPLITS}')
        transform = dict(transform or {})
        misplaced = sorted(_PREPROCESSOR_KEYS & set(transform))
        if misplaced:
            raise ConfigError(
                f'CIFAR100Dataset: transform options {misplaced} are not applied here; normalisation and random '
                f'erasing run batched in ClsDataPreprocessor'
            )
        self.split = split
        self.check_md5 = check_md5
        self.transform = _allow_zero_bit_posterize(create_transform(**transform, use_prefetcher=True))
        self._images = None
        super().__init__(data_root=data_root, **kwargs)

    def _root(self) -> str:
        """torchvision's ``root``: the folder that holds ``cifar-100-python``."""
        root = self.data_root or '.'
        if osp.basename(osp.normpath(root)) == CIFAR100.base_folder and not osp.isdir(
            osp.join(root, CIFAR100.base_folder)
        ):
            return osp.dirname(osp.normpath(root))
        return root

    def _check_files(self, root: str) -> None:
        folder = osp.join(root, CIFAR100.base_folder)
        listed = CIFAR100.train_list if self.split == 'train' else CIFAR100.test_list
        files = [(name, md5) for name, md5 in listed] + [(CIFAR100.meta['filename'], CIFAR100.meta['md5'])]
        missing = [name for name, _ in files if not osp.isfile(osp.join(folder, name))]
        if missing:
            raise MissingFileError(
                f'CIFAR100Dataset: {folder!r} lacks {missing} (expected {folder}/{{train,test,meta}}, the python '
                f'release). Get it with: python -c "import torchvision; torchvision.datasets.CIFAR100('
                f"'{root}', download=True)\" (or unpack {CIFAR100.url} into {root}), or set data_root "
                f'(--cfg-options data_root=PATH)'
            )
        if self.check_md5:
            for name, md5 in files:
                if not check_integrity(osp.join(folder, name), md5):
                    raise DataError(
                        f"CIFAR100Dataset: {osp.join(folder, name)!r} is not the release's file (md5 is not "
                        f'{md5}); download it again, or set check_md5=False to read a file in the same format'
                    )

    def load_data_list(self) -> List[dict]:
        """Read the split with torchvision's reader; the images stay in one array, the list holds labels."""
        root = self._root()
        self._check_files(root)
        try:
            data = _UncheckedCIFAR100(root, train=self.split == 'train')
        except (KeyError, ValueError, EOFError, OSError, TypeError) as e:  # not a pickle of the release's dicts
            raise DataError(
                f'CIFAR100Dataset: cannot read {osp.join(root, CIFAR100.base_folder)} ({type(e).__name__}: {e}); '
                f'expected the python release (pickled dicts with data, fine_labels; meta with fine_label_names)'
            ) from e
        self._images = data.data  # N x 32 x 32 x 3, uint8 (torchvision transposes the release's planes)
        self._metainfo['classes'] = tuple(data.classes)
        return [dict(index=i, gt_label=int(label)) for i, label in enumerate(data.targets)]

    def prepare_data(self, idx: int) -> dict:
        info = self.get_data_info(idx)
        img = Image.fromarray(self._images[info['index']])
        sample = BaseDataElement(metainfo=dict(index=info['index']))
        sample.gt_label = torch.tensor(info['gt_label'], dtype=torch.long)
        return dict(inputs=self.transform(img), data_samples=sample)
