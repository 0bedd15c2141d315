"""Batch preprocessing for classification: normalise, then (training only) random erasing and Mixup/CutMix.

This is the batched half of timm's ImageNet input pipeline, in the order timm's training script uses:
``PrefetchLoader`` normalises and applies :class:`timm.data.RandomErasing` to the batch, then the
training loop calls :class:`timm.data.Mixup`, which mixes images and turns labels into smoothed
soft targets. The ConvNeXt release (facebookresearch/ConvNeXt ``main.py``) uses Mixup 0.8, CutMix
1.0, switch probability 0.5, batch mode, label smoothing 0.1, and random erasing 0.25 in 'pixel'
mode. mmengine's :class:`~mmengine.model.ImgDataPreprocessor` does the stacking and normalisation.
"""

from typing import Optional, Sequence

import torch
from mmengine.model import ImgDataPreprocessor
from mmengine.registry import MODELS
from timm.data import Mixup
from timm.data.random_erasing import RandomErasing

from ..errors import ConfigError, DataError

IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)  # timm's IMAGENET_DEFAULT_MEAN x 255
IMAGENET_STD_255 = (58.395, 57.12, 57.375)


@MODELS.register_module()
class ClsDataPreprocessor(ImgDataPreprocessor):
    """Normalise uint8 RGB batches; in training, random-erase and Mixup/CutMix them with timm.

    Args:
        mean: per-channel mean in 0..255 units (ImageNet by default).
        std: per-channel std in 0..255 units.
        num_classes: classes of the soft targets; :class:`ConvNeXtClassifier` fills it in from its own
            ``num_classes`` when it is left out.
        mixup: keyword arguments of :class:`timm.data.Mixup` (``mixup_alpha``, ``cutmix_alpha``, ``prob``,
            ``switch_prob``, ``mode``, ``label_smoothing``), or None for no mixing.
        random_erasing: keyword arguments of :class:`timm.data.RandomErasing` (``probability``,
            ``mode``, ``max_count``), or None.
        non_blocking: asynchronous host-to-device copies.

    In training, each sample's ``gt_score`` becomes the soft target (N classes) when Mixup is on;
    ``gt_label`` is left as it is. Evaluation batches are only normalised.

    Example:
        >>> from mmengine.structures import BaseDataElement
        >>> pre = ClsDataPreprocessor(num_classes=10, mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0))
        >>> batch = dict(inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(2)],
        ...              data_samples=[BaseDataElement(gt_label=torch.tensor([i])) for i in range(2)])
        >>> out = pre(batch, training=True)   # an even number of images, as Mixup needs
        >>> out['inputs'].dtype, out['data_samples'][0].gt_score.shape
        (torch.float32, torch.Size([10]))
    """

    def __init__(
        self,
        mean: Sequence[float] = IMAGENET_MEAN_255,
        std: Sequence[float] = IMAGENET_STD_255,
        num_classes: Optional[int] = None,
        mixup: Optional[dict] = None,
        random_erasing: Optional[dict] = None,
        non_blocking: bool = False,
    ):
        super().__init__(mean=mean, std=std, non_blocking=non_blocking)
        self.num_classes = num_classes
        self.mixup = None
        if mixup is not None:
            if num_classes is None:
                raise ConfigError('ClsDataPreprocessor: mixup needs num_classes (the width of the soft targets)')
            if 'num_classes' in mixup:
                raise ConfigError(
                    f'ClsDataPreprocessor: give num_classes to the preprocessor, not inside mixup={mixup}'
                )
            self.mixup = Mixup(**mixup, num_classes=num_classes)
        self.random_erasing = None
        if random_erasing is not None:
            if 'device' in random_erasing:
                raise ConfigError('ClsDataPreprocessor: random_erasing runs on the batch\'s device; drop "device"')
            self.random_erasing = RandomErasing(**random_erasing, device='cpu')

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        if not training:
            return data
        inputs, samples = data['inputs'], data['data_samples']
        if self.random_erasing is not None:
            self.random_erasing.device = inputs.device  # fills with normal noise made on that device
            inputs = self.random_erasing(inputs)
        if self.mixup is not None:
            if samples is None:
                raise DataError('ClsDataPreprocessor: Mixup needs the data samples with gt_label')
            if inputs.shape[0] % 2:
                raise ConfigError(
                    f'ClsDataPreprocessor: timm Mixup/CutMix mixes each image with the flipped batch and needs an '
                    f'even batch; got {inputs.shape[0]} images. Use an even train_dataloader.batch_size and '
                    f'drop_last=True.'
                )
            labels = torch.stack([s.gt_label.reshape(()) for s in samples]).to(inputs.device)
            inputs, soft = self.mixup(inputs, labels)
            for sample, score in zip(samples, soft):
                sample.gt_score = score
        data['inputs'] = inputs
        return data
