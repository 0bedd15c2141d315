"""Isotropic ConvNeXt (paper Section 3.3): the sizes of Table 2, and the authors' released layout loading strictly,
layer scale (``gamma``) in L only, into the backbone and into the classifier, which then gives the authors' logits."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from timm_reference import randomise_
from torch.utils.flop_counter import FlopCounterMode

import convnext_dense  # noqa: F401  (registration)
from convnext_dense.errors import CheckpointError, ConfigError
from convnext_dense.models import ConvNeXtClassifier, ConvNeXtIsotropic, to_classifier_state_dict
from convnext_dense.models.convnext_isotropic import ISOTROPIC_WEIGHTS

SIZES = {'small': (18, 384, False), 'base': (18, 768, False), 'large': (36, 1024, True)}  # depth, dim, layer scale


class AuthorsIsotropicBlock(nn.Module):
    """facebookresearch/ConvNeXt ``models/convnext.py`` Block, written here with plain torch: ``gamma`` only when
    the model was trained with layer scale."""

    def __init__(self, dim: int, layer_scale: bool):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.ones(dim)) if layer_scale else None

    def forward(self, x):
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(self.dwconv(x).permute(0, 2, 3, 1)))))
        if self.gamma is not None:
            y = self.gamma * y
        return x + y.permute(0, 3, 1, 2)


class AuthorsIsotropic(nn.Module):
    """The authors' ``models/convnext_isotropic.py`` module tree (``stem``, ``blocks``, ``norm``, ``head``)."""

    def __init__(self, depth: int, dim: int, layer_scale: bool, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, kernel_size=16, stride=16)
        self.blocks = nn.Sequential(*[AuthorsIsotropicBlock(dim, layer_scale) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        return self.head(self.norm(self.blocks(self.stem(x)).mean((-2, -1))))


@pytest.mark.parametrize('arch, params, gflops', [('small', 22, 4.3), ('base', 87, 16.9), ('large', 306, 59.7)])
def test_sizes_are_table_2(arch, params, gflops):
    with torch.device('meta'):
        model = ConvNeXtClassifier(dict(type='ConvNeXtIsotropic', arch=arch), num_classes=1000)
    with FlopCounterMode(display=False) as counter:  # gradients on: the counter does not know oneDNN's kernels
        model(torch.empty(1, 3, 224, 224, device='meta'), mode='tensor')
    assert round(sum(p.numel() for p in model.parameters()) / 1e6) == params
    assert round(counter.get_total_flops() / 2e9, 1) == gflops
    depth, dim, layer_scale = SIZES[arch]
    assert (model.backbone.depth, model.backbone.dim, model.backbone.out_channels) == (depth, dim, (dim,))
    assert any(n.endswith('.gamma') for n, _ in model.named_parameters()) == layer_scale


def test_authors_small_file_gives_the_authors_logits(tmp_path):
    """Real random weights: into the classifier (``finetune``, head kept) and into the backbone (``init_cfg``)."""
    authors = randomise_(AuthorsIsotropic(18, 384, layer_scale=False), seed=4)
    path = str(tmp_path / 'convnext_iso_small_1k_224_ema.pth')
    torch.save({'model': authors.state_dict()}, path)
    model = ConvNeXtClassifier(
        dict(type='ConvNeXtIsotropic', arch='small'), num_classes=10, finetune=dict(checkpoint=path)
    )
    model.init_weights()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        expected, got = authors(x), model.eval()(x, mode='tensor')
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    model.load_state_dict(to_classifier_state_dict(authors.state_dict()), strict=True)  # the same mapping
    backbone = ConvNeXtIsotropic('small')
    report = backbone.load_checkpoint(path)
    assert sorted(report['unexpected']) == ['head.bias', 'head.weight', 'norm.bias', 'norm.weight']
    with torch.no_grad():
        torch.testing.assert_close(backbone.eval()(x)[0], model.backbone(x)[0])


def _authors_file(tmp_path, arch):
    """The authors' key layout and shapes of a full-size model, each tensor one random value (stride 0: tiny file)."""
    depth, dim, layer_scale = SIZES[arch]
    with torch.device('meta'):
        shapes = {
            k: v.shape for k, v in AuthorsIsotropic(depth, dim, layer_scale, num_classes=1000).state_dict().items()
        }
    g = torch.Generator().manual_seed(0)
    path = str(tmp_path / f'convnext_iso_{arch}_1k_224_ema.pth')
    torch.save({'model': {k: torch.randn(1, generator=g).expand(s) for k, s in shapes.items()}}, path)
    return path


@pytest.mark.parametrize('arch', sorted(SIZES))
def test_every_released_layout_loads_strictly(tmp_path, arch):
    """Full-size models on the meta device; L has layer scale, and L built without it refuses the file."""
    path = _authors_file(tmp_path, arch)
    with torch.device('meta'):
        backbone = ConvNeXtIsotropic(arch, init_cfg=dict(type='Pretrained', checkpoint=path))
        backbone.init_weights()  # raises on any missing, extra or reshaped weight
        model = ConvNeXtClassifier(dict(type='ConvNeXtIsotropic', arch=arch), finetune=dict(checkpoint=path))
        report = model.load_finetune_checkpoint(path)
    assert report['head_from_init'] == [] and report['unused'] == []
    if arch == 'large':
        with torch.device('meta'):
            without = ConvNeXtIsotropic('large', layer_scale_init_value=0)
        with pytest.raises(CheckpointError, match=r'backbone weights the model lacks: blocks\.0\.gamma'):
            without.load_checkpoint(path)


def test_released_weights_are_listed():
    assert sorted(w.arch for w in ISOTROPIC_WEIGHTS.values()) == ['base', 'large', 'small']
    for name, w in ISOTROPIC_WEIGHTS.items():
        assert w.url == f'https://dl.fbaipublicfiles.com/convnext/{name}.pth'


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmengine'])
def test_builds_in_every_scope(scope):
    from mmengine.registry import MODELS

    init_default_scope(scope)
    registry = MODELS
    if scope != 'mmengine':
        registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with torch.device('meta'):
        assert isinstance(registry.build(dict(type='ConvNeXtIsotropic', arch='base')), ConvNeXtIsotropic)


def test_outputs_and_wrong_arguments():
    net = ConvNeXtIsotropic(dict(depth=3, dim=16), out_indices=(0, -1))
    outs = net(torch.rand(1, 3, 48, 80))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 3, 5), (1, 16, 3, 5)] and all(o.is_contiguous() for o in outs)
    assert net.out_strides == (16, 16) and [f['module'] for f in net.feature_info] == ['blocks.0', 'blocks.2']
    for kwargs, match in [
        (dict(arch='huge'), "arch='huge'"),
        (dict(arch='small', out_norm=True), 'out_norm=True'),
        (dict(arch='small', out_indices=(18,)), 'out_indices'),
    ]:
        with pytest.raises(ConfigError, match=match):
            ConvNeXtIsotropic(**kwargs)
