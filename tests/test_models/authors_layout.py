"""A model whose ``state_dict()`` has the authors' (facebookresearch/ConvNeXt) module layout.

Written for the tests, independently of ``convnext_dense``: the module tree (``downsample_layers``,
``stages.i.j.{dwconv,norm,pwconv1,pwconv2,gamma,grn}``, and either the classifier's ``norm`` + ``head``
or the detection/segmentation backbone's output norms ``norm0..norm3``) produces the keys, so a
checkpoint saved from it is laid out as the authors' ``convnext_*_1k_224.pth`` (``{'model': ...}``)
or their Mask/Cascade R-CNN and UperNet checkpoints (``backbone.*`` in an mmdet/mmseg ``state_dict``)
without any key being written by hand. Its forward is the published architecture, computed here
with plain torch ops, as the reference the loaded model must reproduce.
"""

from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


class ChannelsFirstLayerNorm(nn.Module):
    """The authors' ``LayerNorm(data_format='channels_first')``: statistics over C of (N, C, H, W)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        return self.weight[:, None, None] * (x - mean) / torch.sqrt(var + self.eps) + self.bias[:, None, None]


class AuthorsGRN(nn.Module):
    """ConvNeXt V2's GRN as released: ``gamma``/``beta`` of shape (1, 1, 1, C) on NHWC input."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x):
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class AuthorsBlock(nn.Module):
    def __init__(self, dim: int, v2: bool):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        if v2:
            self.grn = AuthorsGRN(4 * dim)
        else:
            self.gamma = nn.Parameter(torch.ones(dim))
        self.v2 = v2

    def forward(self, x):
        y = self.norm(self.dwconv(x).permute(0, 2, 3, 1))
        y = F.gelu(self.pwconv1(y))
        if self.v2:
            y = self.grn(y)
        y = self.pwconv2(y)
        if not self.v2:
            y = self.gamma * y
        return x + y.permute(0, 3, 1, 2)


class AuthorsConvNeXt(nn.Module):
    """The released ConvNeXt, as a classifier (``dense=False``) or a dense backbone (``dense=True``).

    Args:
        depths, dims: the size.
        v2: ConvNeXt V2 blocks (GRN, no layer scale).
        dense: the detection/segmentation backbone (``norm0..norm3`` on the stage outputs) instead of
            the classifier (``norm`` after global pooling, ``head``).
        num_classes: classifier outputs.
    """

    def __init__(
        self, depths: Sequence[int], dims: Sequence[int], v2: bool = False, dense: bool = False, num_classes: int = 10
    ):
        super().__init__()
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(3, dims[0], kernel_size=4, stride=4), ChannelsFirstLayerNorm(dims[0]))]
        )
        for i in range(1, len(dims)):
            self.downsample_layers.append(
                nn.Sequential(
                    ChannelsFirstLayerNorm(dims[i - 1]), nn.Conv2d(dims[i - 1], dims[i], kernel_size=2, stride=2)
                )
            )
        self.stages = nn.ModuleList(
            [nn.Sequential(*[AuthorsBlock(dim, v2) for _ in range(depth)]) for depth, dim in zip(depths, dims)]
        )
        self.dense = dense
        if dense:
            for i, dim in enumerate(dims):
                self.add_module(f'norm{i}', ChannelsFirstLayerNorm(dim))
        else:
            self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
            self.head = nn.Linear(dims[-1], num_classes)

    def stage_outputs(self, x) -> List[torch.Tensor]:
        """Each stage's output, after its ``norm{i}`` when dense."""
        outs = []
        for i, (down, stage) in enumerate(zip(self.downsample_layers, self.stages)):
            x = stage(down(x))
            outs.append(getattr(self, f'norm{i}')(x) if self.dense else x)
        return outs

    def forward(self, x):
        outs = self.stage_outputs(x)
        return outs if self.dense else self.head(self.norm(outs[-1].mean((-2, -1))))
