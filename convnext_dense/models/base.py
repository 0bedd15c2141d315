"""What this package's backbones share: the outputs they declare, the released init, ``init_cfg`` and ``out_indices``.

:class:`ConvNeXt`, :class:`ModernizedResNet` (the roadmap steps) and :class:`ConvNeXtIsotropic` derive from
:class:`FeatureBackbone`. A subclass sets ``feature_info`` (timm's layout: one ``dict(num_chs, reduction,
module)`` per output, what necks and the preflight read as ``out_channels``) and implements
``load_checkpoint(checkpoint, use_ema=False, prefix=None)`` (through :mod:`.checkpoint`'s one loader).
"""

from typing import Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from timm.layers import trunc_normal_

from ..errors import ConfigError

_PRETRAINED_KEYS = ('checkpoint', 'use_ema', 'prefix')


class FeatureBackbone(BaseModule):
    """A backbone returning a tuple of NCHW maps that it declares in ``feature_info``."""

    feature_info: list

    @property
    def out_channels(self) -> Tuple[int, ...]:
        return tuple(info['num_chs'] for info in self.feature_info)

    @property
    def out_strides(self) -> Tuple[int, ...]:
        return tuple(info['reduction'] for info in self.feature_info)

    @property
    def what(self) -> str:
        """The backbone, for messages (``'ConvNeXt'``, ``"ModernizedResNet(step='gelu', ...)"``)."""
        return type(self).__name__

    def load_checkpoint(self, checkpoint: str, use_ema: bool = False, prefix=None) -> dict:
        raise NotImplementedError

    def init_weights(self):
        """Truncated-normal (std 0.02) conv and linear weights and zero biases, as the authors' releases
        initialise every ConvNeXt (and the paper's recipe every roadmap step); then the checkpoint of
        ``init_cfg=dict(type='Pretrained', checkpoint=PATH, use_ema=False, prefix=None)``."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if self.init_cfg is not None:
            init_cfg = dict(self.init_cfg)
            if (
                init_cfg.pop('type', None) != 'Pretrained'
                or 'checkpoint' not in init_cfg
                or set(init_cfg) - set(_PRETRAINED_KEYS)
            ):
                raise ConfigError(
                    f'{self.what}: init_cfg={self.init_cfg} is not supported; use '
                    f"dict(type='Pretrained', checkpoint=PATH) (also use_ema, prefix) or None"
                )
            self.load_checkpoint(**init_cfg)
        self._is_init = True

    def check_indices(self, out_indices, count: int, unit: str = 'stage') -> Tuple[int, ...]:
        """``out_indices`` (an int or a sequence, negative from the end) as sorted distinct indices in ``[0, count)``.

        Raises:
            ConfigError: an index out of range or not an int, or none / repeated ones.
        """
        indices: Sequence = (out_indices,) if isinstance(out_indices, int) else tuple(out_indices)
        for index in indices:
            if not isinstance(index, int) or isinstance(index, bool) or not -count <= index < count:
                raise ConfigError(
                    f'{self.what}: out_indices={tuple(indices)} holds {index!r}; each index must be an int in '
                    f'[{-count}, {count - 1}] for a {count}-{unit} model'
                )
        normalised = tuple(sorted({i % count for i in indices}))
        if not normalised or len(normalised) != len(indices):
            raise ConfigError(f'{self.what}: out_indices={tuple(indices)} must name distinct {unit}s, at least one')
        return normalised

    def freeze_stages(self, frozen_stages: int) -> None:
        """No gradient and eval mode for the stem (``frozen_stages`` >= 0) and the stages ``0 .. frozen_stages - 1``
        with their downsampling layers (a ``downsample_layers`` + ``stages`` layout, as ConvNeXt's: stage ``i`` is
        entered through ``downsample_layers[i]``, the stem for stage 0). The downsampling layer of the first
        trained stage trains, as in mmpretrain's ConvNeXt and mmdet's ResNet (stem + ``layer1`` for 1)."""
        frozen = list(self.downsample_layers[: max(frozen_stages, 1)] if frozen_stages >= 0 else [])
        frozen += list(self.stages[: max(frozen_stages, 0)])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False
