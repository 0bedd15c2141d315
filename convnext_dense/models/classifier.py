"""The ImageNet classifier around the ConvNeXt backbone: backbone -> global average pool -> LayerNorm -> Linear.

This is the released classifier (facebookresearch/ConvNeXt ``models/convnext.py``: ``self.norm``
over the pooled features, eps 1e-6, then ``self.head``; ``head_init_scale`` multiplies the initial
head weights), with timm's head, ``NormMlpClassifierHead`` as timm's ConvNeXt builds it (pool ->
norm -> dropout -> ``fc``; parameter names ``head.norm``, ``head.fc``), its norm the backbone's float32
channels-first LayerNorm. The backbone is this project's dense :class:`~convnext_dense.models.ConvNeXt`
returning its last stage without an output norm, so a checkpoint's ``backbone.*`` weights are exactly
what detection and segmentation load (:func:`convnext_dense.models.load_pretrained` reports
``norm``/``head`` as unused).

Losses are timm's, chosen as the release chooses them: :class:`~timm.loss.SoftTargetCrossEntropy`
on Mixup/CutMix soft targets, otherwise :class:`~timm.loss.LabelSmoothingCrossEntropy` (plain cross
entropy when ``label_smoothing`` is 0).
"""

from functools import partial
from typing import List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from mmengine.structures import BaseDataElement
from timm.layers import LayerNorm2dFp32, NormMlpClassifierHead, trunc_normal_
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

from ..errors import ConfigError, DataError
from .checkpoint import fit_state_dict, read_checkpoint
from .state_dict import convert_state_dict, to_classifier_state_dict


@MODELS.register_module()
class ConvNeXtClassifier(BaseModel):
    """Image classifier: a backbone's last feature map, pooled, normalised and classified.

    Args:
        backbone: config of the backbone, ``dict(type='ConvNeXt', arch=...)``. ``out_indices`` defaults
            to the last stage and ``out_norm`` to False; other values are an error, because the
            classifier's own ``head.norm`` is the released final norm.
        num_classes: classes (1000 for ImageNet-1K).
        head_init_scale: initial scale of the classifier weights (1.0 from scratch, 0.001 fine-tuning).
        head_drop_rate: dropout before the classifier.
        label_smoothing: smoothing of the hard-label loss, used when the batch carries no Mixup soft
            targets (with Mixup the smoothing is Mixup's ``label_smoothing``).
        finetune: start from a released or earlier classifier checkpoint (the release's ``--finetune``):
            ``dict(checkpoint=PATH_OR_URL, use_ema=False, keep_head=True)``, loaded by
            :meth:`init_weights`. Every backbone weight must be in the file (any layout
            :func:`convnext_dense.models.convert_state_dict` reads: FB, timm, mmpretrain, this
            project's); the final norm (``head.norm``) is loaded when present. The classifier
            ``head.fc`` is loaded only when ``keep_head`` and its shape fits (the V1 release keeps a
            1K head for 224 -> 384 fine-tuning and drops a 22K head for 22K -> 1K); otherwise it keeps
            its fresh ``head_init_scale`` init (the V2 release always re-initialises it).
        data_preprocessor: config of the data preprocessor; by default
            ``dict(type='ClsDataPreprocessor')`` (normalisation only). Its ``num_classes`` is filled in
            from ``num_classes``.
        init_cfg: mmengine init config of the whole model.

    ``forward(inputs, data_samples, mode)``: ``'tensor'`` returns logits (N, num_classes);
    ``'loss'`` returns ``dict(loss=...)``; ``'predict'`` returns the data samples with ``pred_score``
    (softmax) and ``pred_label`` set.

    Example:
        >>> model = ConvNeXtClassifier(dict(type='ConvNeXt', arch=dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64])),
        ...                            num_classes=5)
        >>> model(torch.rand(2, 3, 64, 64), mode='tensor').shape
        torch.Size([2, 5])
    """

    def __init__(
        self,
        backbone: dict,
        num_classes: int = 1000,
        head_init_scale: float = 1.0,
        head_drop_rate: float = 0.0,
        label_smoothing: float = 0.1,
        finetune: Optional[dict] = None,
        data_preprocessor: Optional[Union[dict, nn.Module]] = None,
        init_cfg: Optional[dict] = None,
    ):
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f'ConvNeXtClassifier: num_classes={num_classes!r} must be a positive int')
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f'ConvNeXtClassifier: label_smoothing={label_smoothing} must be in [0, 1)')
        if data_preprocessor is None:
            data_preprocessor = dict(type='ClsDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor)
            data_preprocessor.setdefault('num_classes', num_classes)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        own = getattr(self.data_preprocessor, 'num_classes', None)
        if own is not None and own != num_classes:
            raise ConfigError(
                f'ConvNeXtClassifier: num_classes={num_classes} but data_preprocessor.num_classes={own}; '
                f'drop the latter, it is filled in from the model'
            )

        backbone = dict(backbone)
        backbone.setdefault('out_indices', (-1,))
        backbone.setdefault('out_norm', False)
        self.backbone = MODELS.build(backbone)
        self._check_backbone(backbone)
        self.num_classes = num_classes
        self.head_init_scale = head_init_scale
        self.head = NormMlpClassifierHead(
            self.backbone.out_channels[-1],
            num_classes,
            drop_rate=head_drop_rate,
            norm_layer=partial(LayerNorm2dFp32, eps=1e-6),  # on the pooled (N, C, 1, 1) map, as the backbone's
        )
        self._reset_head()
        self.label_smoothing = label_smoothing
        self.finetune = self._check_finetune(finetune)
        self.soft_loss = SoftTargetCrossEntropy()
        self.hard_loss = LabelSmoothingCrossEntropy(label_smoothing) if label_smoothing > 0 else nn.CrossEntropyLoss()

    @torch.no_grad()
    def _reset_head(self):
        """The released head init: ``fc`` truncated normal (std 0.02) times ``head_init_scale``, zero bias;
        an identity norm."""
        nn.init.ones_(self.head.norm.weight)
        nn.init.zeros_(self.head.norm.bias)
        trunc_normal_(self.head.fc.weight, std=0.02)
        nn.init.zeros_(self.head.fc.bias)
        self.head.fc.weight.mul_(self.head_init_scale)

    def _check_backbone(self, cfg: dict):
        net = self.backbone
        if not hasattr(net, 'out_channels'):
            raise ConfigError(
                f'ConvNeXtClassifier: backbone {type(net).__name__} must declare out_channels '
                f'(the channels of its outputs)'
            )
        depths = getattr(net, 'depths', None)
        if depths is not None and tuple(net.out_indices) != (len(depths) - 1,):
            raise ConfigError(
                f'ConvNeXtClassifier: backbone out_indices={cfg["out_indices"]} must be the last stage '
                f'only, ({len(depths) - 1},): the classifier reads the last feature map'
            )
        if getattr(net, 'out_norm', False):
            raise ConfigError(
                'ConvNeXtClassifier: backbone out_norm must be False; the released final norm is the '
                "classifier's head.norm, and norm{i} is reserved for detection/segmentation"
            )

    @staticmethod
    def _check_finetune(finetune: Optional[dict]) -> Optional[dict]:
        if finetune is None:
            return None
        finetune = dict(finetune)
        unknown = sorted(set(finetune) - {'checkpoint', 'use_ema', 'keep_head'})
        if unknown or not isinstance(finetune.get('checkpoint'), str):
            raise ConfigError(
                f'ConvNeXtClassifier: finetune={finetune!r}; give dict(checkpoint=PATH_OR_URL, '
                f'use_ema=False, keep_head=True)'
            )
        finetune.setdefault('use_ema', False)
        finetune.setdefault('keep_head', True)
        return finetune

    def init_weights(self):
        """Head init (``head_init_scale``), the backbone's own init, ``init_cfg``, then the ``finetune`` checkpoint."""
        first = not self._is_init
        if first:
            self._reset_head()
        super().init_weights()
        if first and self.finetune is not None:
            self.load_finetune_checkpoint(**self.finetune)

    def load_finetune_checkpoint(self, checkpoint: str, use_ema: bool = False, keep_head: bool = True) -> dict:
        """Load a classifier checkpoint of any released layout for fine-tuning; see ``finetune`` in the class doc.

        Returns:
            ``dict(loaded=[...], head_from_init=[...], unused=[...])``: the keys taken from the file, the
            ``head.*`` keys left at their init, and the file's keys this model does not have.

        Raises:
            CheckpointError: a backbone weight is missing or has another shape, or the file is a larger
                model (:func:`~convnext_dense.models.checkpoint.fit_state_dict`: names the keys and both archs).
        """
        state = fit_state_dict(
            self.backbone,
            convert_state_dict(read_checkpoint(checkpoint, use_ema=use_ema)),
            checkpoint,
            subject='ConvNeXtClassifier: fine-tuning checkpoint',
        )
        state = to_classifier_state_dict(state)
        own = self.state_dict()
        head_from_init = [
            k
            for k in own
            if k.startswith('head.')
            and (k not in state or state[k].shape != own[k].shape or (k.startswith('head.fc.') and not keep_head))
        ]
        loaded = [k for k in own if k not in head_from_init]
        self.load_state_dict({k: state[k] for k in loaded}, strict=False)
        unused = [k for k in state if k not in own]
        print_log(
            f'ConvNeXtClassifier: fine-tuning from {checkpoint}{" (EMA)" if use_ema else ""}: loaded '
            f'{len(loaded)} tensors; kept at init: {head_from_init or "none"}; unused: {unused or "none"}',
            logger='current',
        )
        return dict(loaded=loaded, head_from_init=head_from_init, unused=unused)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The last stage of the backbone, (N, C, H/32, W/32), before any norm."""
        return self.backbone(inputs)[-1]

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[BaseDataElement]] = None, mode: str = 'tensor'):
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ConfigError(f"ConvNeXtClassifier: mode={mode!r}; use 'tensor', 'loss' or 'predict'")

    def loss(self, inputs: torch.Tensor, data_samples: List[BaseDataElement]) -> dict:
        """Soft-target cross entropy on Mixup targets, else label-smoothing cross entropy on ``gt_label``."""
        if not data_samples:
            raise DataError("ConvNeXtClassifier: mode='loss' needs data_samples with gt_label")
        logits = self.head(self.extract_feat(inputs))
        if all('gt_score' in s for s in data_samples):
            target = torch.stack([s.gt_score for s in data_samples]).to(logits)
            return dict(loss=self.soft_loss(logits, target))
        labels = torch.stack([s.gt_label.reshape(()) for s in data_samples]).to(logits.device)
        return dict(loss=self.hard_loss(logits, labels))

    def predict(
        self, inputs: torch.Tensor, data_samples: Optional[List[BaseDataElement]] = None
    ) -> List[BaseDataElement]:
        """Softmax scores and arg-max labels, written into (copies of) the data samples."""
        scores = F.softmax(self.head(self.extract_feat(inputs)), dim=1).detach()
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(scores.shape[0])]
        for sample, score in zip(data_samples, scores):
            sample.pred_score = score
            sample.pred_label = score.argmax().reshape(())
        return data_samples
