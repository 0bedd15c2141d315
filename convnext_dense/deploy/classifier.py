"""The graphs of a backbone alone (its feature maps) and of an image classifier (its logits).

The backbone graph is the backbone's own forward: its input is what the backbone takes (the normalised
image), its outputs the feature maps it returns (for ConvNeXt, strides 4, 8, 16, 32). The classifier
graph starts with the classifier's preprocessing (:mod:`.preprocess`) and ends with
``ConvNeXtClassifier.forward(mode='tensor')``, the logits.
"""

from typing import Tuple

import torch
import torch.nn as nn

from .preprocess import Preprocess


class BackboneGraph(nn.Module):
    """``backbone(x)`` with float32 input and outputs around a backbone of another dtype.

    Args:
        backbone: the (fused, eval-mode) backbone.
        dtype: the backbone's parameter dtype; inputs are cast to it, outputs back to float32.
    """

    def __init__(self, backbone: nn.Module, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.backbone = backbone
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(f.float() for f in self.backbone(x.to(self.dtype)))


class ClassifierGraph(nn.Module):
    """Preprocessing, then the classifier's logits (float32).

    Args:
        classifier: a :class:`~convnext_dense.models.ConvNeXtClassifier` (or any model whose
            ``forward(x, mode='tensor')`` returns logits).
        preprocess: the classifier's test-time preprocessing.
        dtype: the classifier's parameter dtype.
    """

    def __init__(self, classifier: nn.Module, preprocess: Preprocess, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.classifier = classifier
        self.preprocess = preprocess
        self.dtype = dtype

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.preprocess(image).to(self.dtype), mode='tensor').float()
