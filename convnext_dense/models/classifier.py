"""The ImageNet classifier around the ConvNeXt backbone: backbone -> global average pool -> LayerNorm -> Linear.

This is the released classifier (facebookresearch/ConvNeXt ``models/convnext.py``: ``self.norm``
over the pooled features, eps 1e-6, then ``self.head``; ``head_init_scale`` multiplies the initial
head weights) with timm's parameter names for the head (``head.norm``, ``head.fc``). The backbone
is this project's dense :class:`~convnext_dense.models.ConvNeXt` returning its last stage without an
output norm, so a checkpoint's ``backbone.*`` weights are exactly what detection and segmentation
load (:func:`convnext_dense.models.load_pretrained` reports ``norm``/``head`` as unused).

Losses are timm's, chosen as the release chooses them: :class:`~timm.loss.SoftTargetCrossEntropy`
on Mixup/CutMix soft targets, otherwise :class:`~timm.loss.LabelSmoothingCrossEntropy` (plain cross
entropy when ``label_smoothing`` is 0).
"""

import re
from collections import OrderedDict
from typing import List, Mapping, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from mmengine.structures import BaseDataElement
from timm.layers import trunc_normal_
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

from .checkpoint import convert_state_dict


class ClsHead(nn.Module):
    """Pool -> LayerNorm -> (dropout) -> Linear, on an NCHW feature map.

    Args:
        in_channels: channels of the backbone's last stage.
        num_classes: classifier outputs.
        init_scale: multiplies the initial ``fc`` weight and bias (``head_init_scale`` of the release;
            0.001 for fine-tuning).
        drop_rate: dropout before ``fc`` (0 in every released ConvNeXt recipe).
    """

    def __init__(self, in_channels: int, num_classes: int, init_scale: float = 1.0, drop_rate: float = 0.0):
        super().__init__()
        self.init_scale = init_scale
        self.norm = nn.LayerNorm(in_channels, eps=1e-6)
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        """Truncated normal (std 0.02) ``fc`` scaled by ``init_scale``, zero bias; identity norm."""
        nn.init.ones_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)
        trunc_normal_(self.fc.weight, std=0.02)
        nn.init.zeros_(self.fc.bias)
        with torch.no_grad():
            self.fc.weight.mul_(self.init_scale)

    def pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> the normalised pooled features (N, C)."""
        return self.norm(x.mean((-2, -1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.pre_logits(x)))


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
            raise ValueError(f'ConvNeXtClassifier: num_classes={num_classes!r} must be a positive int')
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f'ConvNeXtClassifier: label_smoothing={label_smoothing} must be in [0, 1)')
        if data_preprocessor is None:
            data_preprocessor = dict(type='ClsDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor)
            data_preprocessor.setdefault('num_classes', num_classes)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        own = getattr(self.data_preprocessor, 'num_classes', None)
        if own is not None and own != num_classes:
            raise ValueError(
                f'ConvNeXtClassifier: num_classes={num_classes} but data_preprocessor.num_classes={own}; '
                f'drop the latter, it is filled in from the model'
            )

        backbone = dict(backbone)
        backbone.setdefault('out_indices', (-1,))
        backbone.setdefault('out_norm', False)
        self.backbone = MODELS.build(backbone)
        self._check_backbone(backbone)
        self.num_classes = num_classes
        self.head = ClsHead(
            self.backbone.out_channels[-1], num_classes, init_scale=head_init_scale, drop_rate=head_drop_rate
        )
        self.label_smoothing = label_smoothing
        self.finetune = self._check_finetune(finetune)
        self.soft_loss = SoftTargetCrossEntropy()
        self.hard_loss = LabelSmoothingCrossEntropy(label_smoothing) if label_smoothing > 0 else nn.CrossEntropyLoss()

    def _check_backbone(self, cfg: dict):
        net = self.backbone
        if not hasattr(net, 'out_channels'):
            raise TypeError(
                f'ConvNeXtClassifier: backbone {type(net).__name__} must declare out_channels '
                f'(the channels of its outputs)'
            )
        depths = getattr(net, 'depths', None)
        if depths is not None and tuple(net.out_indices) != (len(depths) - 1,):
            raise ValueError(
                f'ConvNeXtClassifier: backbone out_indices={cfg["out_indices"]} must be the last stage '
                f'only, ({len(depths) - 1},): the classifier reads the last feature map'
            )
        if getattr(net, 'out_norm', False):
            raise ValueError(
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
            raise ValueError(
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
            self.head.reset_parameters()
        super().init_weights()
        if first and self.finetune is not None:
            self.load_finetune_checkpoint(**self.finetune)

    def load_finetune_checkpoint(self, checkpoint: str, use_ema: bool = False, keep_head: bool = True) -> dict:
        """Load a classifier checkpoint of any released layout for fine-tuning; see ``finetune`` in the class doc.

        Returns:
            ``dict(loaded=[...], head_from_init=[...], unused=[...])``: the keys taken from the file, the
            ``head.*`` keys left at their init, and the file's keys this model does not have.

        Raises:
            ValueError: a backbone weight is missing or has another shape (names the keys and both archs).
        """
        from .checkpoint import _describe, infer_arch, read_checkpoint

        state = to_classifier_state_dict(read_checkpoint(checkpoint, use_ema=use_ema))
        own = self.state_dict()
        head_from_init = [
            k
            for k in own
            if k.startswith('head.')
            and (k not in state or state[k].shape != own[k].shape or (k.startswith('head.fc.') and not keep_head))
        ]
        body = [k for k in own if not k.startswith('head.')]
        missing = [k for k in body if k not in state]
        mismatched = [
            f'{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
            for k in body
            if k in state and state[k].shape != own[k].shape
        ]
        if missing or mismatched:
            file_arch = infer_arch({k[len('backbone.') :]: v for k, v in state.items() if k.startswith('backbone.')})
            model_arch = infer_arch({k[len('backbone.') :]: v for k, v in own.items() if k.startswith('backbone.')})
            raise ValueError(
                f'ConvNeXtClassifier: fine-tuning checkpoint {checkpoint!r} does not fit: missing {missing[:6]}'
                f'{" ..." if len(missing) > 6 else ""}, other shapes {mismatched[:3]}. The file holds '
                f'{_describe(file_arch)}; the model is {_describe(model_arch)}. Set model.backbone.arch to the '
                f"file's size."
            )
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
        raise ValueError(f"ConvNeXtClassifier: mode={mode!r}; use 'tensor', 'loss' or 'predict'")

    def loss(self, inputs: torch.Tensor, data_samples: List[BaseDataElement]) -> dict:
        """Soft-target cross entropy on Mixup targets, else label-smoothing cross entropy on ``gt_label``."""
        if not data_samples:
            raise ValueError("ConvNeXtClassifier: mode='loss' needs data_samples with gt_label")
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


def to_classifier_state_dict(state_dict: Mapping[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Rename a whole-classifier state dict of any released layout (FB, timm, mmpretrain) to this classifier's.

    :func:`convnext_dense.models.convert_state_dict` gives the FB layout (``norm.*`` and ``head.*`` for
    the final norm and classifier); this maps that onto ``backbone.*``, ``head.norm.*``, ``head.fc.*``.

    Example:
        >>> import timm
        >>> timm_model = timm.create_model('convnext_tiny', depths=(1, 1, 1, 1), dims=(8, 16, 32, 64))
        >>> sd = to_classifier_state_dict(timm_model.state_dict())
        >>> model = ConvNeXtClassifier(dict(type='ConvNeXt', arch=dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64])))
        >>> model.load_state_dict(sd)
        <All keys matched successfully>
    """
    out = OrderedDict()
    for key, value in convert_state_dict(state_dict).items():
        if re.match(r'^norm\.(weight|bias)$', key):
            key = 'head.' + key
        elif re.match(r'^head\.(weight|bias)$', key):
            key = 'head.fc.' + key[len('head.') :]
        else:
            key = 'backbone.' + key
        out[key] = value
    return out
