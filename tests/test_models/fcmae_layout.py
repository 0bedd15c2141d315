"""A model whose ``state_dict()`` has the layout of ConvNeXt V2's FCMAE pre-training files.

Written for the tests, independently of ``convnext_dense``. The module tree follows
facebookresearch/ConvNeXt-V2 ``models/fcmae.py`` (``FCMAE``: ``encoder``, ``proj``, ``mask_token``,
``decoder``, ``pred``) and ``models/convnextv2_sparse.py`` (``SparseConvNeXtV2``: a dense stem, then
MinkowskiEngine layers). MinkowskiEngine itself (CUDA sparse kernels) is not installable here, so its
four layer types are stood in for by modules with its parameter names and shapes:

* ``MinkowskiConvolution``: ``kernel`` (K*K, in, out), ``bias`` (1, out);
* ``MinkowskiDepthwiseConvolution`` (channel-wise): ``kernel`` (K*K, C), ``bias`` (1, C);
* ``MinkowskiLinear``: an ``nn.Linear`` under ``linear``;
* the authors' ``MinkowskiLayerNorm`` (an ``nn.LayerNorm`` under ``ln``) and ``MinkowskiGRN``
  (``gamma`` / ``beta`` of shape (1, C)).

So a checkpoint saved from it, ``{'model': FCMAE(...).state_dict()}``, has the released
``convnextv2_*_1k_224_fcmae.pt`` keys and shapes without any key written by hand.

Its :meth:`SparseEncoder.stage_outputs` computes what the sparse encoder computes on an image with no
masked patch, from the sparse tensors as they are, by MinkowskiEngine's rules rather than by
converting the weights: a kernel's index ``n`` is the offset ``(n % K, n // K)`` along (h, w) (the
first spatial axis fastest, ``kernel_region::coordinate_at`` in MinkowskiEngine's
``src/kernel_region.hpp``; ``to_sparse`` orders the coordinates (batch, h, w)), centred for odd K
(``n % K - K // 2``) and starting at 0 for even K; a missing neighbour contributes nothing. GRN's
statistics run over all points of the sparse tensor, i.e. the whole batch: one image per call.
"""

from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from authors_layout import AuthorsBlock, ChannelsFirstLayerNorm


def _offset(n: int, k: int):
    i, j = n % k, n // k
    return (i - k // 2, j - k // 2) if k % 2 else (i, j)


class MinkowskiConvolution(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int):
        super().__init__()
        assert kernel_size == stride, 'the encoder only downsamples with kernel 2, stride 2'
        self.k = kernel_size
        self.kernel = nn.Parameter(torch.zeros(kernel_size**2, cin, cout))
        self.bias = nn.Parameter(torch.zeros(1, cout))

    def forward(self, x):  # (C, H, W) on the full grid
        c, h, w = x.shape
        out = self.bias.reshape(-1, 1, 1).expand(-1, h // self.k, w // self.k).clone()
        for n in range(self.k**2):
            di, dj = _offset(n, self.k)
            out = out + torch.einsum('chw,co->ohw', x[:, di :: self.k, dj :: self.k], self.kernel[n])
        return out


class MinkowskiDepthwiseConvolution(nn.Module):
    def __init__(self, dim: int, kernel_size: int):
        super().__init__()
        self.k = kernel_size
        self.kernel = nn.Parameter(torch.zeros(kernel_size**2, dim))
        self.bias = nn.Parameter(torch.zeros(1, dim))

    def forward(self, x):
        c, h, w = x.shape
        p = self.k // 2
        padded = F.pad(x, (p, p, p, p))  # outside the image: no point, nothing added
        out = self.bias.reshape(-1, 1, 1).expand(-1, h, w).clone()
        for n in range(self.k**2):
            di, dj = _offset(n, self.k)
            out = out + self.kernel[n].reshape(-1, 1, 1) * padded[:, p + di : p + di + h, p + dj : p + dj + w]
        return out


class MinkowskiLinear(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.linear = nn.Linear(cin, cout)

    def forward(self, x):
        return self.linear(x.permute(1, 2, 0)).permute(2, 0, 1)


class MinkowskiLayerNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.ln = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        return self.ln(x.permute(1, 2, 0)).permute(2, 0, 1)


class MinkowskiGRN(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, dim))
        self.beta = nn.Parameter(torch.zeros(1, dim))

    def forward(self, x):
        feats = x.flatten(1).t()  # (points, C), as SparseTensor.F
        gx = torch.norm(feats, p=2, dim=0, keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return (self.gamma * (feats * nx) + self.beta + feats).t().reshape(x.shape)


class SparseBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = MinkowskiDepthwiseConvolution(dim, 7)
        self.norm = MinkowskiLayerNorm(dim)
        self.pwconv1 = MinkowskiLinear(dim, 4 * dim)
        self.pwconv2 = MinkowskiLinear(4 * dim, dim)
        self.grn = MinkowskiGRN(4 * dim)

    def forward(self, x):
        y = F.gelu(self.pwconv1(self.norm(self.dwconv(x))))
        return x + self.pwconv2(self.grn(y))


class SparseEncoder(nn.Module):
    """``SparseConvNeXtV2``: dense stem, then sparse downsampling layers and blocks."""

    def __init__(self, depths: Sequence[int], dims: Sequence[int]):
        super().__init__()
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(3, dims[0], kernel_size=4, stride=4), ChannelsFirstLayerNorm(dims[0]))]
        )
        for i in range(1, len(dims)):
            self.downsample_layers.append(
                nn.Sequential(MinkowskiLayerNorm(dims[i - 1]), MinkowskiConvolution(dims[i - 1], dims[i], 2, 2))
            )
        self.stages = nn.ModuleList(
            [nn.Sequential(*[SparseBlock(dim) for _ in range(depth)]) for depth, dim in zip(depths, dims)]
        )

    def stage_outputs(self, image: torch.Tensor) -> List[torch.Tensor]:
        """Each stage's output for one (1, 3, H, W) image with no patch masked, each (1, C, h, w)."""
        assert image.shape[0] == 1, 'the sparse GRN pools over every point of the batch: one image'
        x = self.downsample_layers[0](image)[0]  # the stem is dense; x *= 1 - mask is x here
        outs = []
        for i, stage in enumerate(self.stages):
            if i:
                x = self.downsample_layers[i](x)
            x = stage(x)
            outs.append(x[None])
        return outs


class FCMAE(nn.Module):
    """The masked autoencoder as saved: the encoder and the (dense) decoder beside it."""

    def __init__(self, depths: Sequence[int], dims: Sequence[int], decoder_embed_dim: int = 24, patch_size: int = 32):
        super().__init__()
        self.encoder = SparseEncoder(depths, dims)
        self.proj = nn.Conv2d(dims[-1], decoder_embed_dim, kernel_size=1)
        self.mask_token = nn.Parameter(torch.zeros(1, decoder_embed_dim, 1, 1))
        self.decoder = nn.Sequential(AuthorsBlock(decoder_embed_dim, v2=True))
        self.pred = nn.Conv2d(decoder_embed_dim, patch_size**2 * 3, kernel_size=1)
