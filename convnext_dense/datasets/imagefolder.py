"""ImageNet-layout image folders (``<root>/<split>/<class>/*.jpg``) with timm's transforms.

The augmentation is timm's :func:`timm.data.create_transform`, called as the ConvNeXt release
(facebookresearch/ConvNeXt ``datasets.py``) calls it: RandAugment ``rand-m9-mstd0.5-inc1``, bicubic
random-resized crops and flips for training; resize to ``size / crop_pct`` and a centre crop for
evaluation. It runs in timm's *prefetcher* form (``use_prefetcher=True``): the dataset returns uint8
CHW tensors and the normalisation and random erasing run batched in
:class:`~convnext_dense.models.ClsDataPreprocessor`, which is where timm's own
``PrefetchLoader`` puts them; Mixup/CutMix follow there too.

mmengine's :class:`~mmengine.dataset.BaseDataset` supplies serialisation of the file list (no
per-worker copies of 1.28M paths), ``indices`` subsets and lazy initialisation.
"""

import logging
import os
import os.path as osp
from typing import List, Optional, Sequence

import torch
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmengine.registry import DATASETS
from mmengine.structures import BaseDataElement
from PIL import Image
from timm.data import auto_augment, create_transform

from ..errors import ConfigError, DataError, MissingFileError
from ..utils import IMG_EXTENSIONS

# create_transform options that are not the dataset's business: they run batched in ClsDataPreprocessor.
_PREPROCESSOR_KEYS = {
    're_prob',
    're_mode',
    're_count',
    're_num_splits',
    'normalize',
    'use_prefetcher',
    'std',
    'separate',
}


def _posterize_any_bits(img: Image.Image, bits_to_keep: int, **kwargs) -> Image.Image:
    """timm's RandAugment posterize, also for 0 bits: an all-black image, as Pillow < 13 returned.

    timm (1.0.31) maps magnitude 10 of ``PosterizeIncreasing`` (reached by 'm9-mstd0.5' noise) to 0
    bits; Pillow >= 13 rejects 0 bits with a ValueError that stops training at random.
    """
    if bits_to_keep < 1:
        return Image.new(img.mode, img.size)
    return auto_augment.posterize(img, bits_to_keep, **kwargs)


def _allow_zero_bit_posterize(transform):
    """Point the posterize ops of any RandAugment in ``transform`` at :func:`_posterize_any_bits`."""
    for t in getattr(transform, 'transforms', []):
        for op in getattr(t, 'ops', []) if isinstance(t, auto_augment.RandAugment) else []:
            if op.aug_fn is auto_augment.posterize:
                op.aug_fn = _posterize_any_bits
    return transform


@DATASETS.register_module()
class ImageFolderDataset(BaseDataset):
    """Classification images in ImageNet folder layout.

    Args:
        data_root: the dataset folder holding the splits, e.g. ``data/imagenet``.
        split: the sub-folder to read, e.g. ``'train'`` or ``'val'``; it holds one folder per class.
        transform: keyword arguments of :func:`timm.data.create_transform`, e.g.
            ``dict(input_size=224, is_training=True, auto_augment='rand-m9-mstd0.5-inc1',
            interpolation='bicubic')``. Random erasing and normalisation are options of
            :class:`~convnext_dense.models.ClsDataPreprocessor` instead.
        classes: the class names in label order. By default the sorted sub-folder names; give them to
            require exactly these folders (e.g. the training classes for a validation split).
        ann_file: a list file instead of scanning the folders (ImageNet-21K has 14M images in 21841
            folders; mmpretrain's ``meta/train.txt`` format): one ``<path relative to the split folder>
            <integer label>`` per line, e.g. ``n00004475/n00004475_10.JPEG 0``. Relative to
            ``data_root``. With it, ``classes`` is optional (labels are checked against it when given).
        **kwargs: passed to :class:`~mmengine.dataset.BaseDataset` (``indices``, ``lazy_init``,
            ``serialize_data``, ``test_mode``, ``max_refetch``).

    Each item is ``dict(inputs=uint8 tensor (3, H, W), data_samples=BaseDataElement(gt_label))``
    with ``img_path`` in the sample's metainfo.

    Raises:
        FileNotFoundError: the split folder is missing or holds no class folders.
        ValueError: a class folder holds no images (allowed, with a warning, when ``classes`` are given: a class
            may have no images in a small val split), ``classes`` does not match the folders, or
            ``transform`` holds an option that belongs to the data preprocessor.
        OSError: an image cannot be read (raised when it is loaded, naming the file).

    Example:
        >>> import tempfile
        >>> from convnext_dense.datasets.synthetic import generate_imagefolder
        >>> root = generate_imagefolder(tempfile.mkdtemp(), num_classes=2, num_train_per_class=1,
        ...                             num_val_per_class=1, image_size=32)['out_dir']
        >>> ds = ImageFolderDataset(root, 'val', transform=dict(input_size=64))
        >>> item = ds[0]
        >>> item['inputs'].shape, item['inputs'].dtype, int(item['data_samples'].gt_label)
        (torch.Size([3, 64, 64]), torch.uint8, 0)
    """

    def __init__(
        self,
        data_root: str,
        split: str = 'train',
        transform: Optional[dict] = None,
        classes: Optional[Sequence[str]] = None,
        ann_file: str = '',
        **kwargs,
    ):
        transform = dict(transform or {})
        misplaced = sorted(_PREPROCESSOR_KEYS & set(transform))
        if misplaced:
            raise ConfigError(
                f'ImageFolderDataset: transform options {misplaced} are not applied here. Normalisation and '
                f"random erasing run batched in ClsDataPreprocessor (as in timm's PrefetchLoader): set "
                f"data_preprocessor=dict(type='ClsDataPreprocessor', random_erasing=dict(probability=...))."
            )
        if 'pipeline' in kwargs:
            raise ConfigError(
                'ImageFolderDataset: use transform=dict(...) (timm create_transform arguments), '
                'not an mmengine pipeline'
            )
        self.split = split
        self.transform_cfg = transform
        self.transform = _allow_zero_bit_posterize(create_transform(**transform, use_prefetcher=True))
        metainfo = dict(classes=tuple(classes)) if classes is not None else None
        super().__init__(
            ann_file=ann_file, metainfo=metainfo, data_root=data_root, data_prefix=dict(img_path=split), **kwargs
        )

    def load_data_list(self) -> List[dict]:
        """Scan ``<data_root>/<split>/<class>/`` for images (or read ``ann_file``); check folders and classes."""
        root = self.data_prefix['img_path']
        if self.ann_file:
            return self._load_ann_file(root)
        if not osp.isdir(root):
            raise MissingFileError(
                f'ImageFolderDataset: image folder {root!r} does not exist. Expected the ImageNet layout '
                f'{root}/<class>/<image>.jpg; set data_root (--cfg-options train_dataloader.dataset.data_root=...) '
                f'or make the demo data with: python tools/make_demo_data.py cls --out {self.data_root or "DIR"}'
            )
        found = sorted(e.name for e in os.scandir(root) if e.is_dir())
        if not found:
            raise MissingFileError(
                f'ImageFolderDataset: {root!r} holds no class folders; expected ' f'{root}/<class>/<image>.jpg'
            )
        classes = self._metainfo.get('classes')
        given = classes is not None
        if classes is None:
            classes = tuple(found)
            self._metainfo['classes'] = classes
        elif sorted(classes) != found:
            missing, extra = sorted(set(classes) - set(found)), sorted(set(found) - set(classes))
            raise DataError(
                f'ImageFolderDataset: the class folders of {root!r} do not match classes: missing '
                f'{missing[:10]}, not in classes {extra[:10]}. Give the same classes as the training '
                f'split or fix the folders.'
            )
        data_list = []
        for label, name in enumerate(classes):
            folder = osp.join(root, name)
            files = sorted(
                e.name for e in os.scandir(folder) if e.is_file() and e.name.lower().endswith(IMG_EXTENSIONS)
            )
            if not files and not given:
                raise DataError(
                    f'ImageFolderDataset: class folder {folder!r} holds no images '
                    f'({", ".join(IMG_EXTENSIONS)}); add images or remove the folder.'
                )
            if not files:  # the classes were given: a class without images in this split (a small val set)
                print_log(
                    f'ImageFolderDataset: class {name!r} has no images in {root!r}.',
                    logger='current',
                    level=logging.WARNING,
                )
            data_list += [dict(img_path=osp.join(folder, f), gt_label=label) for f in files]
        if not data_list:
            raise DataError(f'ImageFolderDataset: the class folders of {root!r} hold no images; add images.')
        return data_list

    def _load_ann_file(self, root: str) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise MissingFileError(
                f'ImageFolderDataset: ann_file {self.ann_file!r} does not exist; it lists '
                f'"<path under {root}> <label>" per line (or drop ann_file to scan the folders)'
            )
        classes = self._metainfo.get('classes')
        data_list = []
        with open(self.ann_file) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.rsplit(maxsplit=1)
                if len(parts) != 2 or not parts[1].isdigit():
                    raise DataError(
                        f'ImageFolderDataset: {self.ann_file}:{number}: {line.strip()!r} is not '
                        f'"<relative image path> <integer label>"'
                    )
                label = int(parts[1])
                if classes is not None and label >= len(classes):
                    raise DataError(
                        f'ImageFolderDataset: {self.ann_file}:{number}: label {label} but only '
                        f'{len(classes)} classes are given'
                    )
                data_list.append(dict(img_path=osp.join(root, parts[0].strip()), gt_label=label))
        if not data_list:
            raise DataError(f'ImageFolderDataset: ann_file {self.ann_file!r} lists no images')
        return data_list

    def prepare_data(self, idx: int) -> dict:
        info = self.get_data_info(idx)
        path = info['img_path']
        try:
            with Image.open(path) as img:
                img = img.convert('RGB')
        except (OSError, ValueError) as e:  # PIL's UnidentifiedImageError is an OSError
            raise DataError(
                f'ImageFolderDataset: cannot read image {path!r} ({type(e).__name__}: {e}); '
                f'replace or delete the file.'
            ) from e
        sample = BaseDataElement(metainfo=dict(img_path=path))
        sample.gt_label = torch.tensor(info['gt_label'], dtype=torch.long)
        return dict(inputs=self.transform(img), data_samples=sample)
