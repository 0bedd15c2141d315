"""ADE20K-format datasets that say clearly what is wrong with the data.

mmseg's ``ADE20KDataset`` and ``LoadAnnotations`` accept broken data in ways that surface late,
far from the cause, or not at all (mmseg 1.2.2, checked by ``tests/test_datasets/test_ade_checks.py``):

* a missing ``data_root`` or image folder raises a bare ``FileNotFoundError`` from mmengine's
  directory listing, with no word on the expected layout or how to point the config elsewhere; an
  empty image folder fails with numpy's "need at least one array to concatenate"; an image without
  its label PNG fails only when a dataloader worker first reaches it;
* a label value outside the classes (e.g. 151 in an ADE20K PNG, which becomes 150 after
  ``reduce_zero_label``) passes the pipeline; training then dies in ``CrossEntropyLoss``
  ("Target 150 is out of bounds", a CUDA device-side assert on a GPU) naming no file, and
  ``IoUMetric`` silently drops such pixels (``torch.histc`` ignores out-of-range values);
* a 16-bit label PNG is cast to uint8 (values wrap) and a colour (RGB) label is read as 3 channels;
* a corrupt image or label raises PIL's "cannot identify image file <_io.BytesIO ...>" or mmcv's
  ``AssertionError: failed to load image`` from a dataloader worker;
* a label whose size differs from its image is resized with the image by ``Resize``/``RandomResize``
  (silently stretched when the aspect ratios agree), or fails later in cropping, batching or
  ``IoUMetric`` with a shape error naming no file.

:class:`CheckedADE20KDataset` checks the folders and the image/label pairing when it is built, and
each sample's label (values, channels, size against its image) the first time a process loads
it, raising errors that name the file, the value and the fix. The demo set's dataset,
``SyntheticADE20KDataset``, is this class with its own classes (:mod:`convnext_dense.datasets.synthetic.ade`).
"""

import io
import os.path as osp
from typing import List, Optional

import mmcv
import numpy as np
from mmengine import fileio
from mmseg.datasets import ADE20KDataset, BaseSegDataset
from mmseg.registry import DATASETS
from PIL import Image

from ..errors import ConfigError, DataError, MissingFileError
from ..utils import is_remote

IGNORE_INDEX = 255
_EXIF_ORIENTATION = 0x0112  # values 5..8 rotate by 90 degrees: OpenCV (mmseg's loader) swaps h and w


def image_size(path: str, backend_args: Optional[dict] = None) -> tuple:
    """``(height, width)`` of an image file as mmseg's OpenCV loader will decode it, from the header only."""
    with Image.open(io.BytesIO(fileio.get(path, backend_args=backend_args))) as img:
        w, h = img.size
        if img.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
            w, h = h, w
    return h, w


def check_seg_sample(
    img_path: str,
    seg_map_path: str,
    num_classes: int,
    reduce_zero_label: bool,
    ignore_index: int = IGNORE_INDEX,
    backend_args: Optional[dict] = None,
) -> None:
    """Check one label PNG against its image and the dataset's classes.

    The label is decoded exactly as mmseg's ``LoadAnnotations`` does (pillow, unchanged), before its
    uint8 cast, so what passes here is what training sees.

    Args:
        img_path: the image file.
        seg_map_path: its label file.
        num_classes: classes of the dataset as stored on disk (150 for ADE20K).
        reduce_zero_label: labels store 0 = "other" and classes as 1..num_classes (ADE20K); else
            classes are 0..num_classes-1.
        ignore_index: the value that marks ignored pixels on disk (255).
        backend_args: mmengine file backend arguments, as given to the dataset.

    Raises:
        ValueError: a colour or multi-channel label, a value outside the classes, or a size mismatch.
    """
    seg = _decode(
        seg_map_path,
        'label',
        lambda: mmcv.imfrombytes(
            fileio.get(seg_map_path, backend_args=backend_args), flag='unchanged', backend='pillow'
        ),
    )
    seg = seg.squeeze() if seg.ndim == 3 and seg.shape[-1] == 1 else seg
    if seg.ndim != 2:
        raise DataError(
            f'label {seg_map_path!r} has shape {seg.shape}: a label must be a one-channel PNG of '
            f'class indices (mode L or P), not a colour rendering. Convert it to indices first.'
        )
    valid_max = num_classes if reduce_zero_label else num_classes - 1
    values = np.unique(seg)
    bad = values[(values > valid_max) & (values != ignore_index)]
    if bad.size:
        convention = (
            f'0 = other (ignored) and 1..{num_classes} = the classes (reduce_zero_label=True)'
            if reduce_zero_label
            else f'0..{num_classes - 1} = the classes'
        )
        raise DataError(
            f'label {seg_map_path!r} holds value(s) {bad.tolist()[:10]} outside the {num_classes} '
            f'classes of this dataset: valid values are {convention}, and {ignore_index} = ignore. '
            f'Fix the file, or set the dataset metainfo / num_classes of the heads to match the data.'
        )
    img_hw = _decode(img_path, 'image', lambda: image_size(img_path, backend_args))
    if tuple(seg.shape) != tuple(img_hw):
        raise DataError(
            f'label {seg_map_path!r} is {seg.shape[0]}x{seg.shape[1]} (HxW) but its image {img_path!r} '
            f"is {img_hw[0]}x{img_hw[1]}: a label must have its image's size, pixel for pixel."
        )


def _decode(path: str, kind: str, read):
    """``read()``, with a missing or undecodable file reported by its name and the fix."""
    try:
        result = read()
    except FileNotFoundError as e:
        raise MissingFileError(
            f'{kind} {path!r} does not exist (it was listed when the dataset was built): '
            f'restore it, or remove the image and its label from the dataset.'
        ) from e
    except (OSError, ValueError, SyntaxError) as e:  # PIL's UnidentifiedImageError is an OSError
        raise DataError(
            f'{kind} {path!r} cannot be decoded ({type(e).__name__}): the file is corrupt or not an '
            f'image. Replace it, or remove the image and its label from the dataset.'
        ) from e
    if result is None:
        raise DataError(
            f'{kind} {path!r} cannot be decoded: the file is corrupt or not an image. Replace it, or '
            f'remove the image and its label from the dataset.'
        )
    return result


class _CheckedMixin:
    """Folder and pairing checks at build time; per-sample label checks on first load."""

    LAYOUT = (
        'Expected the ADE20K layout <data_root>/images/{training,validation}/*.jpg with '
        '<data_root>/annotations/{training,validation}/*.png'
    )

    def load_data_list(self) -> List[dict]:
        name = type(self).__name__
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path')
        layout = self.LAYOUT
        if is_remote(img_dir):  # a remote backend (s3://, http://): listing is the backend's business
            return super().load_data_list()
        for kind, folder in (('image', img_dir), ('annotation', ann_dir)):
            if folder is not None and not osp.isdir(folder):
                raise MissingFileError(
                    f'{name}: {kind} folder {folder!r} does not exist (data_root={self.data_root!r}). {layout}. '
                    f'Put the data there (ADE20K: unzip ADEChallengeData2016.zip under data/ade/; demo data: '
                    f'python tools/make_demo_data.py ade --out data/synthetic_ade) or point the config at it '
                    f'with --cfg-options data_root=PATH.'
                )
        data_list = super().load_data_list()
        if not data_list:
            raise MissingFileError(f'{name}: no {self.img_suffix!r} image in {img_dir!r}. {layout}.')
        if ann_dir is not None:
            missing = [d['seg_map_path'] for d in data_list if not osp.isfile(d['seg_map_path'])]
            if missing:
                first = next(d for d in data_list if not osp.isfile(d['seg_map_path']))
                raise MissingFileError(
                    f'{name}: {len(missing)} of {len(data_list)} images have no label; the first '
                    f'is {first["img_path"]!r}, whose label {missing[0]!r} does not exist. Each '
                    f'image needs a {self.seg_map_suffix!r} label of the same name under '
                    f'{ann_dir!r}.'
                )
        return data_list

    def prepare_data(self, idx: int):
        # Each process (main or dataloader worker) checks each sample once: the cost is one extra
        # label decode and image header read per sample, not per iteration.
        checked = self.__dict__.setdefault('_checked_indices', set())
        if idx not in checked:
            info = self.get_data_info(idx)
            if info.get('seg_map_path') is not None:
                check_seg_sample(
                    info['img_path'],
                    info['seg_map_path'],
                    # classes as stored on disk: ADE20K's 150 (a label_map subset reads the full range)
                    len(type(self).METAINFO.get('classes') or self.metainfo['classes']),
                    bool(info.get('reduce_zero_label')),
                    ignore_index=self.ignore_index,
                    backend_args=self.backend_args,
                )
            checked.add(idx)
        try:
            return super().prepare_data(idx)
        except AssertionError as e:  # mmcv's LoadImageFromFile: `failed to load image` (header fine, data not)
            if 'failed to load image' not in str(e):
                raise
            path = self.get_data_info(idx)['img_path']
            raise DataError(
                f'image {path!r} cannot be decoded: the file is corrupt or truncated. Replace it, or '
                f'remove the image and its label from the dataset.'
            ) from e


@DATASETS.register_module()
class CheckedADE20KDataset(_CheckedMixin, ADE20KDataset):
    """mmseg's ``ADE20KDataset`` (150 classes, ``reduce_zero_label=True``) with clear data errors.

    Raises:
        FileNotFoundError: at build time: a missing folder, no image, or an image without label.
        ValueError: on first load of a sample: see :func:`check_seg_sample`.
    """


@DATASETS.register_module()
class CheckedSegDataset(_CheckedMixin, BaseSegDataset):
    """mmseg's ``BaseSegDataset`` for your own classes (``metainfo=dict(classes=..., palette=...)``), with the
    checks of :class:`CheckedADE20KDataset`: label values against ``len(classes)`` (and ``reduce_zero_label``,
    ``ignore_index``), one channel, the image's size.

    Takes ``BaseSegDataset``'s arguments; images ``*.jpg`` and labels ``*.png`` of the same name by default
    (``img_suffix``, ``seg_map_suffix``). The template ``configs/segmentation/custom/upernet_convnext_t_custom.py``
    and ``docs/custom_data.md`` show the layout.
    """

    LAYOUT = (
        'Expected <data_root>/<data_prefix.img_path>/NAME.jpg with <data_root>/<data_prefix.seg_map_path>/NAME.png '
        '(configs/segmentation/custom/upernet_convnext_t_custom.py: images/{train,val}, annotations/{train,val})'
    )

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png', **kwargs):
        meta = kwargs.get('metainfo') or {}
        if not meta.get('classes'):
            raise ConfigError(
                'CheckedSegDataset needs its classes: metainfo=dict(classes=(...), palette=[...]) '
                '(configs/segmentation/custom/upernet_convnext_t_custom.py)'
            )
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
