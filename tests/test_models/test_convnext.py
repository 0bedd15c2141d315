"""ConvNeXt backbone: shapes, options, every size, both registries, FLOPs/params, equality with timm."""

import pytest
import torch
from timm_reference import timm_stage_features

from convnext_dense.models import ARCH_SETTINGS, ConvNeXt, convert_state_dict

SMALL = dict(depths=(1, 1, 2, 1), dims=(8, 16, 32, 64))


def test_stage_features_equal_timm_v1(timm_tiny):
    net = ConvNeXt('tiny', out_norm=False).eval()
    report = net.load_state_dict(convert_state_dict(timm_tiny.state_dict()), strict=False)
    assert report.missing_keys == []
    assert sorted(report.unexpected_keys) == ['head.bias', 'head.weight', 'norm.bias', 'norm.weight']
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        ours, ref = net(x), timm_stage_features(timm_tiny, x)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_stage_features_equal_timm_v2(timm_v2_atto):
    net = ConvNeXt('v2-atto', out_norm=False).eval()
    assert not any(k.endswith('gamma') for k in net.state_dict()), 'V2 has no layer scale'
    report = net.load_state_dict(convert_state_dict(timm_v2_atto.state_dict()), strict=False)
    assert report.missing_keys == []
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        for a, b in zip(net(x), timm_stage_features(timm_v2_atto, x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('out_indices', [(0, 1, 2, 3), (1, 2, 3), (0, 2), (1,), (-1,)])
@pytest.mark.parametrize('hw', [(32, 32), (65, 97), (131, 67)])
def test_output_shapes_on_odd_sizes(out_indices, hw):
    net = ConvNeXt(SMALL, out_indices=out_indices).eval()
    outs = net(torch.rand(2, 3, *hw))
    stages = [i % 4 for i in out_indices]
    assert len(outs) == len(stages)
    for out, stage, chs, stride in zip(outs, stages, net.out_channels, net.out_strides):
        h, w = hw[0] // 4, hw[1] // 4  # stem: 4x4 stride 4, then floor-halving per stage
        for _ in range(stage):
            h, w = h // 2, w // 2
        assert tuple(out.shape) == (2, SMALL['dims'][stage], h, w)
        assert chs == SMALL['dims'][stage] and stride == 4 * 2**stage
    assert [f['module'] for f in net.feature_info] == [f'stages.{s}' for s in stages]


def test_later_stages_are_not_built():
    net = ConvNeXt(SMALL, out_indices=(0, 1))
    assert len(net.stages) == 2 and len(net.downsample_layers) == 2
    assert all(p.grad is not None for p in _backward(net))


@pytest.mark.parametrize('out_norm', [True, False])
def test_outputs_are_nchw_contiguous_so_mmcv_roi_align_reads_them_right(out_norm):
    """timm's LayerNorm2d leaves channels-last memory; mmcv's RoIAlign reads raw NCHW memory. Before the
    outputs were made contiguous, RoIAlign on them differed from torchvision's and Mask R-CNN's box
    classifier stayed at chance (bbox mAP 0.001 on the demo)."""
    from mmcv.ops import roi_align
    from torchvision.ops import roi_align as tv_roi_align

    torch.manual_seed(0)
    net = ConvNeXt(dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64]), out_norm=out_norm).eval()
    rois = torch.tensor([[0.0, 3.0, 5.0, 50.0, 41.0], [1.0, 20.0, 8.0, 60.0, 62.0], [1.0, 0.0, 0.0, 63.0, 63.0]])
    with torch.no_grad():
        feats = net(torch.randn(2, 3, 64, 64))
    for feat, stride in zip(feats, net.out_strides):
        assert feat.is_contiguous()
        ours = roi_align(feat, rois, (7, 7), 1.0 / stride, 2, 'avg', True)
        torch.testing.assert_close(ours, tv_roi_align(feat, rois, (7, 7), 1.0 / stride, 2, aligned=True))


def _backward(net, hw=(64, 64)):
    net.train()
    sum(o.mean() for o in net(torch.rand(1, 3, *hw))).backward()
    return [p for p in net.parameters() if p.requires_grad]


@pytest.mark.parametrize('frozen_stages', [0, 1, 3])
def test_frozen_stages_get_no_gradient_and_stay_in_eval(frozen_stages):
    net = ConvNeXt(SMALL, frozen_stages=frozen_stages, drop_path_rate=0.5)
    _backward(net)
    frozen = [net.downsample_layers[i] for i in range(max(frozen_stages, 1))] + [
        net.stages[i] for i in range(frozen_stages)
    ]
    for module in frozen:
        assert not module.training
        assert all(not p.requires_grad and p.grad is None for p in module.parameters())
    # the first trained stage trains with its downsampling layer (stage i is entered through downsample_layers[i])
    trainable = [net.stages[i] for i in range(frozen_stages, 4)]
    trainable += [net.downsample_layers[i] for i in range(max(frozen_stages, 1), 4)]
    for module in trainable:
        assert module.training
        assert all(p.requires_grad and p.grad is not None for p in module.parameters())


@pytest.mark.parametrize('frozen_stages', [1, 2, 3, 4])
def test_frozen_stages_freeze_what_mmpretrain_freezes(frozen_stages):
    """The same parameter names are frozen as in mmpretrain's ConvNeXt (its downsample_layers/stages layout is
    ours); mmpretrain's 0 freezes nothing where ours freezes the stem (mmdet's ResNet convention), so 0 is left
    out."""
    from mmpretrain.models.backbones import ConvNeXt as MMPretrainConvNeXt

    ours = ConvNeXt(SMALL, frozen_stages=frozen_stages)
    ours.train()
    theirs = MMPretrainConvNeXt(
        dict(depths=list(SMALL['depths']), channels=list(SMALL['dims'])), frozen_stages=frozen_stages
    )
    theirs.train()

    def frozen(net):  # 'downsample_layers.1', 'stages.0', ... (the block names inside differ)
        parts = {}
        for name, p in net.named_parameters():
            if name.startswith(('downsample_layers.', 'stages.')):
                parts.setdefault('.'.join(name.split('.')[:2]), set()).add(p.requires_grad)
        assert all(len(flags) == 1 for flags in parts.values()), 'a part is partly frozen'
        return sorted(part for part, flags in parts.items() if flags == {False})

    assert frozen(ours) and frozen(ours) == frozen(theirs)


def test_drop_path_is_off_in_eval_and_on_in_train():
    torch.manual_seed(0)
    net = ConvNeXt(SMALL, drop_path_rate=0.5, layer_scale_init_value=1.0)
    x = torch.rand(2, 3, 64, 64)
    net.eval()
    torch.testing.assert_close(net(x)[-1], net(x)[-1], rtol=0, atol=0)
    net.train()
    assert not torch.allclose(net(x)[-1], net(x)[-1])


def test_drop_path_rate_rises_linearly_over_blocks():
    net = ConvNeXt(SMALL, drop_path_rate=0.4)
    rates = [getattr(b.drop_path, 'drop_prob', 0.0) for stage in net.stages for b in stage]
    assert rates == pytest.approx(torch.linspace(0, 0.4, 5).tolist())


def test_activation_checkpointing_gives_same_outputs_and_grads():
    torch.manual_seed(0)
    plain = ConvNeXt(SMALL, layer_scale_init_value=1.0)
    ckpt = ConvNeXt(SMALL, layer_scale_init_value=1.0, with_cp=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.rand(1, 3, 64, 64)
    for net in (plain, ckpt):
        sum(o.square().mean() for o in net(x)).backward()
    for (name, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_layer_scale_and_grn_options():
    v1 = ConvNeXt(SMALL)
    assert torch.all(v1.stages[0][0].gamma == 1e-6)
    assert torch.all(ConvNeXt(SMALL, layer_scale_init_value=1.0).stages[0][0].gamma == 1.0)
    assert v1.stages[0][0].gamma.dim() == 1  # 1-D: no weight decay under mmdet/mmseg's constructors
    assert ConvNeXt(SMALL, layer_scale_init_value=0).stages[0][0].gamma is None
    v2 = ConvNeXt(dict(SMALL, grn=True))
    assert v2.stages[0][0].gamma is None and v2.stages[0][0].grn.weight.shape == (32,)


@pytest.mark.parametrize('arch', sorted(ARCH_SETTINGS))
def test_every_size_builds_with_the_published_widths(arch):
    with torch.device('meta'):  # no memory for the 650M-parameter V2-huge
        net = ConvNeXt(arch)
    spec = ARCH_SETTINGS[arch]
    assert net.out_channels == tuple(spec['dims']) and net.out_strides == (4, 8, 16, 32)
    assert [len(s) for s in net.stages] == list(spec['depths'])
    assert any('.grn.' in k for k in net.state_dict()) == spec.get('grn', False)


@pytest.mark.parametrize(
    'arch,params_m',
    [('tiny', 28.6), ('small', 50.2), ('base', 88.6), ('large', 197.8), ('v2-atto', 3.7), ('v2-tiny', 28.6)],
)
def test_classifier_parameter_counts_match_the_papers(arch, params_m):
    """Backbone body + final norm + 1000-way head, as the papers count them."""
    with torch.device('meta'):
        net = ConvNeXt(arch, out_indices=(3,), out_norm=False)
    dim = net.dims[-1]
    total = sum(p.numel() for p in net.parameters()) + 2 * dim + dim * 1000 + 1000
    assert total / 1e6 == pytest.approx(params_m, abs=0.1)


def test_flops_of_tiny_match_the_paper():
    """4.5 GFLOPs at 224 (multiply-adds, as the paper counts), measured with mmengine's analyzer."""
    from mmengine.analysis import FlopAnalyzer

    net = ConvNeXt('tiny', out_indices=(3,), out_norm=False).eval()
    flops = FlopAnalyzer(net, torch.zeros(1, 3, 224, 224)).unsupported_ops_warnings(False).total()
    head = 768 * 1000  # the classifier's fc, not part of the backbone
    assert (flops + head) / 1e9 == pytest.approx(4.47, abs=0.05)


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmengine'])
def test_registries_build_by_name(scope):
    from mmengine.registry import MODELS as ROOT
    from mmengine.registry import DefaultScope

    registry = {'mmdet': 'mmdet.registry', 'mmseg': 'mmseg.registry', 'mmengine': 'mmengine.registry'}[scope]
    models = __import__(registry, fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        net = models.build(dict(type='ConvNeXt', arch=SMALL, out_indices=(1, 3)))
    assert isinstance(net, ConvNeXt) and net.out_channels == (16, 64)
    assert ROOT.get('ConvNeXt') is ConvNeXt
    # registered once, in the root: the scopes find it through their parent
    assert scope == 'mmengine' or 'ConvNeXt' not in models.module_dict


def test_config_with_custom_imports_builds_under_both_scopes(tmp_path):
    from mmengine.config import Config

    for scope in ('mmdet', 'mmseg'):
        path = tmp_path / f'{scope}.py'
        path.write_text(
            f"default_scope = '{scope}'\ncustom_imports = dict(imports=['convnext_dense'])\n"
            f"model = dict(type='ConvNeXt', arch='v2-atto', out_indices=(3,))\n"
        )
        cfg = Config.fromfile(str(path))
        models = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
        from mmengine.registry import init_default_scope

        init_default_scope(scope)
        assert models.build(cfg.model).out_channels == (320,)


@pytest.mark.parametrize(
    'kwargs,match',
    [
        (dict(arch='huge'), r"unknown arch 'huge'; choose one of \[.*'tiny'"),
        (dict(arch=dict(depths=[1, 1])), "needs the keys 'depths' and 'dims'"),
        (dict(arch=dict(depths=[1, 1], dims=[8])), 'must be positive and of equal length'),
        (dict(out_indices=(0, 4)), r'holds 4; each index must be an int in \[-4, 3\]'),
        (dict(out_indices=(1, 1)), 'distinct stages'),
        (dict(frozen_stages=5), 'frozen_stages=5 is out of range'),
        (dict(drop_path_rate=1.0), r'drop_path_rate=1.0 must be in \[0, 1\)'),
        (dict(init_cfg=dict(type='Kaiming')), "use dict\\(type='Pretrained'"),
    ],
)
def test_bad_arguments_name_the_value_and_the_choices(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvNeXt(**{'arch': SMALL, **kwargs}).init_weights()
