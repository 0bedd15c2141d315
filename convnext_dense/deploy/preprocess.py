"""The model's own preprocessing inside the exported graph: channel order, ``(x - mean) / std``, padding.

At test time mmengine's ``ImgDataPreprocessor`` (the base of mmdet's ``DetDataPreprocessor``, mmseg's
``SegDataPreprocessor`` and this project's ``ClsDataPreprocessor``) swaps BGR to RGB, converts to float,
normalises and pads each image at the bottom and right to a multiple of ``pad_size_divisor``. The graph
does the same, in that order and with the same operations, so that its input is the test pipeline's image
as a float tensor (:data:`INPUT_CONTRACT`) and what the caller does is only what the pipeline does
(loading and resizing).
"""

from typing import Optional

import torch
import torch.nn as nn

from ..errors import ConfigError
from .ops import pad_to_multiple

INPUT_CONTRACT = (
    'float32 NCHW pixel values 0..255, channels in the order the test pipeline loads them ({channels}), '
    'resized as the test pipeline resizes them and not padded; the graph {steps}'
)


class Preprocess(nn.Module):
    """The test-time work of an image data preprocessor on a float32 NCHW batch.

    Args:
        mean: per-channel mean (0..255 units), or None for no normalisation.
        std: per-channel std.
        swap_channels: reverse the channel order first (BGR to RGB).
        size_divisor: pad height and width up to a multiple of it (1: no padding).
        pad_value: the value of the padded pixels (after normalisation, as mmengine pads).

    Example:
        >>> pre = Preprocess(mean=[0., 0., 0.], std=[255., 255., 255.], swap_channels=True, size_divisor=32)
        >>> pre(torch.full((1, 3, 40, 50), 255.)).shape
        torch.Size([1, 3, 64, 64])
    """

    def __init__(
        self,
        mean: Optional[torch.Tensor],
        std: Optional[torch.Tensor],
        swap_channels: bool = False,
        size_divisor: int = 1,
        pad_value: float = 0.0,
    ):
        super().__init__()
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer('mean', torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1))
            self.register_buffer('std', torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1))
        self.swap_channels = swap_channels
        self.size_divisor = int(size_divisor or 1)
        self.pad_value = float(pad_value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.swap_channels:
            x = x[:, [2, 1, 0]]
        if self.normalize:
            x = (x - self.mean) / self.std
        return pad_to_multiple(x, self.size_divisor, self.pad_value)

    def describe(self, channels: str) -> str:
        """The input contract of a graph that starts with this preprocessing, in words."""
        steps = []
        if self.swap_channels:
            steps.append('swaps BGR to RGB')
        if self.normalize:
            mean = ', '.join(f'{v:g}' for v in self.mean.flatten().tolist())
            std = ', '.join(f'{v:g}' for v in self.std.flatten().tolist())
            steps.append(f'computes (x - [{mean}]) / [{std}]')
        if self.size_divisor > 1:
            steps.append(f'pads height and width to multiples of {self.size_divisor} with {self.pad_value:g}')
        return INPUT_CONTRACT.format(channels=channels, steps=', '.join(steps) or 'uses it as it is')


def preprocess_from(data_preprocessor: nn.Module, key: str = 'model.data_preprocessor') -> Preprocess:
    """The :class:`Preprocess` of a built mmengine/mmdet/mmseg/classification data preprocessor.

    Raises:
        ConfigError: for preprocessing the graph does not reproduce (mmseg's test-time padding).
    """
    normalize = getattr(data_preprocessor, '_enable_normalize', False)
    swap = getattr(data_preprocessor, '_channel_conversion', None)
    if swap is None:  # mmseg's SegDataPreprocessor names it without the underscore
        swap = getattr(data_preprocessor, 'channel_conversion', False)
    test_cfg = getattr(data_preprocessor, 'test_cfg', None)
    if test_cfg:
        raise ConfigError(
            f"export: {key}.test_cfg={dict(test_cfg)} pads test images in the segmentor's preprocessor, which "
            f'the exported graph does not reproduce; remove {key}.test_cfg (whole-image and slide inference '
            f'take any image size)'
        )
    return Preprocess(
        data_preprocessor.mean if normalize else None,
        data_preprocessor.std if normalize else None,
        swap_channels=bool(swap),
        size_divisor=getattr(data_preprocessor, 'pad_size_divisor', 1) or 1,
        pad_value=getattr(data_preprocessor, 'pad_value', 0),
    )
