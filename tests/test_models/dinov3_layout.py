"""Models whose ``state_dict()`` has the published parameter names of the DINOv3 ConvNeXt backbones.

Neither library is installed here: the DINOv3 repository (facebookresearch/dinov3) is not on PyPI, and
transformers' ``DINOv3ConvNextModel`` needs transformers >= 4.56, newer than the pinned one. So, as
``authors_layout.py`` does for the authors' ConvNeXt, these module trees are written for the tests from the
published code, and the keys of a file saved from them come from the module tree, not from strings:

* :class:`DINOv3ConvNeXt`: ``dinov3/models/convnext.py`` of facebookresearch/dinov3, which loads its released
  ``dinov3_convnext_*_pretrain_lvd1689m-*.pth`` files with ``strict=True``: the authors' ConvNeXt layout
  (``downsample_layers``, ``stages.i.j.{dwconv,norm,pwconv1,pwconv2,gamma}``, the final ``norm``), no classifier
  (``head`` is an identity), and ``norms``: three identities and the final norm module again, so the final norm's
  tensors appear twice, as ``norm.*`` and ``norms.3.*``.
* :class:`HFDINOv3ConvNeXt`: transformers' ``DINOv3ConvNextModel`` (``facebook/dinov3-convnext-*`` on the Hub):
  ``stages.i.downsample_layers.{0,1}`` (the stem's convolution and norm in stage 0, norm and 2x2 convolution
  after), ``stages.i.layers.j.{depthwise_conv,layer_norm,pointwise_conv1,pointwise_conv2,gamma}`` and the final
  ``layer_norm``. Its names and outputs were compared once with transformers 5.3.0's own class (the test's
  ``test_hf_dinov3_tree_matches_transformers_when_installed`` does it wherever that class is importable).

Both compute the published forward with plain torch ops; ``stage_outputs`` gives each stage's output before any
norm (DINOv3's ``x_prenorm`` maps), the reference a loaded backbone without output norms must reproduce.
"""

from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from authors_layout import AuthorsBlock, ChannelsFirstLayerNorm


class DINOv3ConvNeXt(nn.Module):
    """facebookresearch/dinov3's ``ConvNeXt``: the authors' tree, ``norms`` beside ``norm``, no classifier."""

    def __init__(self, depths: Sequence[int], dims: Sequence[int]):
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
            [nn.Sequential(*[AuthorsBlock(dim, v2=False) for _ in range(depth)]) for depth, dim in zip(depths, dims)]
        )
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Identity()
        self.norms = nn.ModuleList([nn.Identity() for _ in range(len(dims) - 1)] + [self.norm])

    def stage_outputs(self, x) -> List[torch.Tensor]:
        outs = []
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
            outs.append(x)
        return outs


class HFLayer(nn.Module):
    """transformers' ``DINOv3ConvNextLayer``: the ConvNeXt block under its own names."""

    def __init__(self, dim: int):
        super().__init__()
        self.depthwise_conv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.layer_norm = nn.LayerNorm(dim, eps=1e-6)
        self.pointwise_conv1 = nn.Linear(dim, 4 * dim)
        self.pointwise_conv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        y = self.layer_norm(self.depthwise_conv(x).permute(0, 2, 3, 1))
        y = self.gamma * self.pointwise_conv2(F.gelu(self.pointwise_conv1(y)))
        return x + y.permute(0, 3, 1, 2)


class HFStage(nn.Module):
    def __init__(self, in_dim: int, dim: int, depth: int, first: bool):
        super().__init__()
        if first:  # the stem: 4x4 stride-4 convolution, then the norm
            self.downsample_layers = nn.ModuleList(
                [nn.Conv2d(in_dim, dim, kernel_size=4, stride=4), ChannelsFirstLayerNorm(dim)]
            )
        else:
            self.downsample_layers = nn.ModuleList(
                [ChannelsFirstLayerNorm(in_dim), nn.Conv2d(in_dim, dim, kernel_size=2, stride=2)]
            )
        self.layers = nn.ModuleList([HFLayer(dim) for _ in range(depth)])

    def forward(self, x):
        for module in self.downsample_layers:
            x = module(x)
        for layer in self.layers:
            x = layer(x)
        return x


class HFDINOv3ConvNeXt(nn.Module):
    """transformers' ``DINOv3ConvNextModel``: stages that hold their own downsampling, a final ``layer_norm``."""

    def __init__(self, depths: Sequence[int], dims: Sequence[int]):
        super().__init__()
        ins = [3, *dims[:-1]]
        self.stages = nn.ModuleList(
            [HFStage(i, d, n, first=k == 0) for k, (i, d, n) in enumerate(zip(ins, dims, depths))]
        )
        self.layer_norm = nn.LayerNorm(dims[-1], eps=1e-6)

    def stage_outputs(self, x) -> List[torch.Tensor]:
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs
