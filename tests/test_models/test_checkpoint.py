"""Checkpoints of every released layout load into ConvNeXt and give timm's features; bad files fail clearly."""

import pytest
import torch
from authors_layout import AuthorsConvNeXt
from timm_reference import fb_state_dict, mmpretrain_state_dict, randomise_, timm_stage_features

from convnext_dense.errors import CheckpointError
from convnext_dense.models import ConvNeXt, convert_state_dict, load_pretrained
from convnext_dense.models.state_dict import infer_arch


def _assert_features_equal(net, timm_model, hw=(64, 80)):
    x = torch.randn(1, 3, *hw)
    net.eval()
    with torch.no_grad():
        for a, b in zip(net(x), timm_stage_features(timm_model, x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def _save(path, obj):
    torch.save(obj, path)
    return str(path)


@pytest.mark.parametrize('layout', ['timm', 'fb', 'mmpretrain', 'detector'])
def test_every_layout_loads_to_the_same_features(tmp_path, timm_tiny, layout):
    sd = timm_tiny.state_dict()
    if layout == 'timm':
        ckpt = dict(sd)
    elif layout == 'fb':
        ckpt = {'model': fb_state_dict(timm_tiny)}
    elif layout == 'mmpretrain':
        ckpt = {'state_dict': mmpretrain_state_dict(timm_tiny), 'meta': {}}
    else:  # an mmdet/mmseg model of this project: backbone.* among the neck and heads
        body = {k: v for k, v in fb_state_dict(timm_tiny).items() if not k.startswith(('norm.', 'head.'))}
        ckpt = {
            'state_dict': {
                **{'backbone.' + k: v for k, v in body.items()},
                'neck.lateral_convs.0.conv.weight': torch.zeros(1),
            },
            'meta': {},
        }
    net = ConvNeXt('tiny', out_norm=False)
    report = load_pretrained(net, _save(tmp_path / 'ckpt.pth', ckpt))
    assert report['missing'] == []
    if layout != 'detector':
        assert sorted(report['unexpected']) == ['head.bias', 'head.weight', 'norm.bias', 'norm.weight']
    _assert_features_equal(net, timm_tiny)


def test_v2_official_layout_with_4d_grn_loads(tmp_path, timm_v2_atto):
    fb = fb_state_dict(timm_v2_atto)
    assert fb['stages.0.0.grn.gamma'].shape == (1, 1, 1, 160)
    net = ConvNeXt('v2-atto', out_norm=False)
    load_pretrained(net, _save(tmp_path / 'v2.pth', {'model': fb}))
    _assert_features_equal(net, timm_v2_atto)
    mm = ConvNeXt('v2-atto', out_norm=False)
    load_pretrained(mm, _save(tmp_path / 'v2mm.pth', {'state_dict': mmpretrain_state_dict(timm_v2_atto)}))
    _assert_features_equal(mm, timm_v2_atto)


def test_out_norms_are_reported_as_newly_initialised(tmp_path, timm_tiny):
    net = ConvNeXt('tiny', out_indices=(1, 3))
    before = net.norm1.weight.clone()
    report = load_pretrained(net, _save(tmp_path / 'c.pth', timm_tiny.state_dict()))
    assert report['missing'] == ['norm1.weight', 'norm1.bias', 'norm3.weight', 'norm3.bias']
    assert torch.equal(net.norm1.weight, before)


def test_ema_weights_are_chosen_on_request(tmp_path, timm_tiny):
    raw = {'backbone.' + k: v for k, v in fb_state_dict(timm_tiny).items()}
    ema = {'module.' + k: v + 1.0 for k, v in raw.items()}
    path = _save(tmp_path / 'cls.pth', {'state_dict': raw, 'ema_state_dict': {**ema, 'steps': torch.tensor(3)}})
    plain, averaged = ConvNeXt('tiny', out_norm=False), ConvNeXt('tiny', out_norm=False)
    load_pretrained(plain, path)
    load_pretrained(averaged, path, use_ema=True)
    key = 'stages.2.4.pwconv1.weight'
    torch.testing.assert_close(averaged.state_dict()[key], plain.state_dict()[key] + 1.0)
    with pytest.raises(ValueError, match='has no EMA weights'):
        load_pretrained(ConvNeXt('tiny'), _save(tmp_path / 'noema.pth', {'state_dict': raw}), use_ema=True)


def test_init_cfg_pretrained_goes_through_the_strict_loader(tmp_path, timm_tiny):
    path = _save(tmp_path / 'c.pth', {'model': fb_state_dict(timm_tiny)})
    net = ConvNeXt('tiny', out_norm=False, init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    _assert_features_equal(net, timm_tiny)
    wrong = ConvNeXt('small', init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match="The file holds arch 'tiny'.*the model is arch 'small'"):
        wrong.init_weights()


def test_checkpoint_of_another_width_names_the_shapes(tmp_path):
    path = _save(tmp_path / 'b.pth', {'state_dict': ConvNeXt('v2-femto').state_dict()})
    with pytest.raises(
        ValueError,
        match=r'other shapes: downsample_layers\.0\.0\.weight: checkpoint \(48, 3, 4, 4\) '
        r"vs model \(40, 3, 4, 4\).*holds arch 'v2-femto'",
    ):
        load_pretrained(ConvNeXt('v2-atto'), path)


def test_missing_backbone_keys_are_listed(tmp_path, timm_tiny):
    sd = {k: v for k, v in timm_tiny.state_dict().items() if not k.startswith('stages.3.')}
    with pytest.raises(ValueError, match=r'backbone weights are missing: downsample_layers\.3\.0\.weight'):
        load_pretrained(ConvNeXt('tiny'), _save(tmp_path / 'partial.pth', sd))


def test_not_a_checkpoint(tmp_path):
    text = tmp_path / 'notes.pth'
    text.write_text('these are not weights')
    with pytest.raises(ValueError, match="notes.pth' is not a readable PyTorch checkpoint"):
        load_pretrained(ConvNeXt('v2-atto'), str(text))
    with pytest.raises(ValueError, match='holds no tensors'):
        load_pretrained(ConvNeXt('v2-atto'), _save(tmp_path / 'meta.pth', {'meta': {'epoch': 3}}))
    with pytest.raises(FileNotFoundError, match=r"missing\.pth' does not exist.*tools/convert_checkpoint\.py"):
        load_pretrained(ConvNeXt('v2-atto'), str(tmp_path / 'missing.pth'))


def test_convert_state_dict_is_pure_and_infers_the_arch(timm_v2_atto):
    sd = timm_v2_atto.state_dict()
    keys_before = list(sd)
    converted = convert_state_dict(sd)
    assert list(sd) == keys_before
    assert infer_arch(converted) == dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), grn=True)
    assert set(converted) - {'norm.weight', 'norm.bias', 'head.weight', 'head.bias'} == set(
        ConvNeXt('v2-atto', out_norm=False).state_dict()
    )


# --- Files made by each layout's own model, every tensor randomised -----------------------------------
SMALL = dict(depths=(2, 2, 3, 2), dims=(16, 32, 48, 64))


def _ours(v2: bool, **kwargs) -> ConvNeXt:
    return ConvNeXt(dict(**SMALL, grn=v2), layer_scale_init_value=None if v2 else 1.0, **kwargs).eval()


def _assert_outputs_equal(ours, reference_outputs, x):
    with torch.no_grad():
        got = ours(x)
    assert len(got) == len(reference_outputs)
    for a, b in zip(got, reference_outputs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('v2', [False, True], ids=['v1', 'v2'])
@pytest.mark.parametrize('task', ['detector', 'segmentor'])
def test_authors_dense_checkpoint_loads_every_tensor_out_norms_included(tmp_path, v2, task):
    """The authors' Mask/Cascade R-CNN and UperNet checkpoints hold backbone.norm0..norm3: all load."""
    ref = randomise_(AuthorsConvNeXt(**SMALL, v2=v2, dense=True), seed=3)
    others = (
        {
            'neck.fpn_convs.0.conv.weight': torch.randn(8, 8, 3, 3),
            'roi_head.bbox_head.0.fc_cls.weight': torch.randn(3, 8),
        }
        if task == 'detector'
        else {
            'decode_head.conv_seg.weight': torch.randn(5, 8, 1, 1),
            'auxiliary_head.conv_seg.weight': torch.randn(5, 8, 1, 1),
        }
    )
    path = _save(
        tmp_path / f'{task}.pth',
        {'meta': {'epoch': 36}, 'state_dict': {**{'backbone.' + k: v for k, v in ref.state_dict().items()}, **others}},
    )
    net = _ours(v2)
    report = load_pretrained(net, path)
    assert report['missing'] == [] and report['unexpected'] == []  # the neck's and heads' keys are not the backbone's
    for i in range(4):
        assert torch.equal(getattr(net, f'norm{i}').weight, getattr(ref, f'norm{i}').weight)
    x = torch.randn(2, 3, 72, 88)
    with torch.no_grad():
        _assert_outputs_equal(net, ref.stage_outputs(x), x)


@pytest.mark.parametrize('v2', [False, True], ids=['v1', 'v2'])
def test_authors_classifier_checkpoint_gives_the_stage_features(tmp_path, v2):
    ref = randomise_(AuthorsConvNeXt(**SMALL, v2=v2, dense=False), seed=4)
    path = _save(tmp_path / 'cls.pth', {'model': ref.state_dict()})
    report = load_pretrained(_ours(v2), path)  # the dense model: output norms start fresh, as the authors'
    assert report['missing'] == [f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias')]
    assert sorted(report['unexpected']) == ['head.bias', 'head.weight', 'norm.bias', 'norm.weight']
    net = _ours(v2, out_norm=False)
    load_pretrained(net, path)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        _assert_outputs_equal(net, ref.stage_outputs(x), x)


def test_own_single_output_checkpoint_keeps_its_norm3(tmp_path):
    """A lone norm3 is the classifier's final norm only in mmpretrain's layout, never in ours."""
    src = randomise_(ConvNeXt(dict(SMALL), out_indices=(3,)), seed=5)
    path = _save(tmp_path / 'own.pth', {'state_dict': {'backbone.' + k: v for k, v in src.state_dict().items()}})
    net = ConvNeXt(dict(SMALL), out_indices=(3,)).eval()
    assert load_pretrained(net, path)['missing'] == []
    x = torch.randn(1, 3, 64, 64)
    _assert_outputs_equal(net, src(x), x)


def test_a_larger_model_whose_keys_are_a_superset_is_an_error(tmp_path):
    """The authors' `small` holds every key `tiny` has (stage 2: 27 blocks against 9): not a fit."""
    path = _save(tmp_path / 'small.pth', {'model': ConvNeXt('small', out_norm=False).state_dict()})
    with pytest.raises(
        ValueError,
        match=r"stages have depths \(3, 3, 27, 3\), the model's \(3, 3, 9, 3\)"
        r".*The file holds arch 'small'.*the model is arch 'tiny'",
    ):
        load_pretrained(ConvNeXt('tiny'), path)
    with pytest.raises(
        ValueError, match=r"backbone weights are missing.*The file holds arch 'tiny'.*" r"the model is arch 'small'"
    ):
        load_pretrained(ConvNeXt('small'), _save(tmp_path / 'tiny.pth', {'model': ConvNeXt('tiny').state_dict()}))


def test_a_v2_checkpoint_into_a_v1_model_without_layer_scale_is_an_error(tmp_path):
    v2 = randomise_(AuthorsConvNeXt(**SMALL, v2=True, dense=False))
    v1 = ConvNeXt(dict(SMALL), layer_scale_init_value=0.0)  # no gamma: every V1 key is in the V2 file
    with pytest.raises(ValueError, match=r'it has GRN layers \(ConvNeXt V2\) and the model has none'):
        load_pretrained(v1, _save(tmp_path / 'v2.pth', {'model': v2.state_dict()}))


def test_a_model_that_builds_fewer_stages_takes_a_larger_file_of_its_size(tmp_path):
    """Stages after the last returned one are not built; the file's later stages are only unused."""
    src = randomise_(AuthorsConvNeXt(**SMALL, dense=True))
    net = ConvNeXt(dict(SMALL), out_indices=(0, 1), layer_scale_init_value=1.0)
    report = load_pretrained(net, _save(tmp_path / 'det.pth', {'model': src.state_dict()}))
    assert report['missing'] == []
    assert any(k.startswith('stages.3.') for k in report['unexpected'])


# --- mmpretrain's own ConvNeXt (the layout of mmpretrain classifiers and of mmdet's ConvNeXt configs) -----
def _mmpretrain_convnext(v2: bool, **kwargs):
    from mmpretrain.models.backbones import ConvNeXt as MMPretrainConvNeXt

    model = MMPretrainConvNeXt(
        arch=dict(depths=list(SMALL['depths']), channels=list(SMALL['dims'])),
        use_grn=v2,
        layer_scale_init_value=0.0 if v2 else 1.0,
        **kwargs,
    )
    randomise_(model, seed=6)
    model.eval()  # mmpretrain's train() returns None, so randomise_'s return value is not the model
    return model


@pytest.mark.parametrize('v2', [False, True], ids=['v1', 'v2'])
def test_mmpretrain_dense_backbone_checkpoint_loads_its_out_norms(tmp_path, v2):
    """mmdet's own ConvNeXt configs: mmpretrain.ConvNeXt(out_indices=(0, 1, 2, 3), gap_before_final_norm=False)."""
    ref = _mmpretrain_convnext(v2, out_indices=(0, 1, 2, 3), gap_before_final_norm=False)
    path = _save(
        tmp_path / 'mmdet.pth',
        {
            'meta': {},
            'state_dict': {
                **{'backbone.' + k: v for k, v in ref.state_dict().items()},
                'neck.lateral_convs.0.conv.weight': torch.ones(1),
            },
        },
    )
    net = _ours(v2)
    report = load_pretrained(net, path)
    assert report['missing'] == [] and report['unexpected'] == []
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        _assert_outputs_equal(net, ref(x), x)


@pytest.mark.parametrize('v2', [False, True], ids=['v1', 'v2'])
def test_mmpretrain_classifier_checkpoint_gives_the_stage_features(tmp_path, v2):
    """mmpretrain's classifier (default out_indices=-1, gap_before_final_norm=True): its lone norm3 is the
    final norm after pooling, which dense models do not use (their output norms start fresh)."""
    ref = _mmpretrain_convnext(v2)
    assert [k for k in ref.state_dict() if k.startswith('norm')] == ['norm3.weight', 'norm3.bias']
    head = {'head.fc.weight': torch.randn(10, SMALL['dims'][-1]), 'head.fc.bias': torch.randn(10)}
    path = _save(
        tmp_path / 'cls.pth',
        {'meta': {}, 'state_dict': {**{'backbone.' + k: v for k, v in ref.state_dict().items()}, **head}},
    )
    dense = _ours(v2)
    report = load_pretrained(dense, path)
    assert report['missing'] == [f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias')]
    assert sorted(report['unexpected']) == ['head.bias', 'head.weight', 'norm.bias', 'norm.weight']
    net = _ours(v2, out_norm=False)
    load_pretrained(net, path)
    stages = _mmpretrain_convnext(v2, out_indices=(0, 1, 2, 3), gap_before_final_norm=False)
    stages.load_state_dict(ref.state_dict(), strict=False)  # same weights; its norm0..2 stay, unused below
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected, y = [], x
        for down, stage in zip(stages.downsample_layers, stages.stages):
            y = stage(down(y))
            expected.append(y)
        _assert_outputs_equal(net, expected, x)
        pooled = ref(x)[0]  # mmpretrain's own classifier output: norm3(gap(stage 3))
        torch.testing.assert_close(
            pooled,
            torch.nn.functional.layer_norm(
                expected[-1].mean((-2, -1)), (SMALL['dims'][-1],), ref.norm3.weight, ref.norm3.bias, 1e-6
            ),
        )


def test_a_file_the_safe_loader_refuses_says_why_and_how(tmp_path):
    """mmengine's plain CheckpointHook pickles the message hub's HistoryBuffer with getattr(...)."""
    from mmengine.logging import HistoryBuffer

    buffer = HistoryBuffer()
    buffer.update(1.0)
    path = _save(
        tmp_path / 'plain_mmengine.pth',
        {'state_dict': {'backbone.x': torch.zeros(1)}, 'message_hub': {'log_scalars': {'train/loss': buffer}}},
    )
    with pytest.raises(
        ValueError,
        match=r"plain_mmengine\.pth' holds Python objects that torch's safe loader "
        r'.*refuses \(getattr\).*SafeCheckpointHook.*'
        r'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1',
    ):
        load_pretrained(ConvNeXt('v2-atto'), path)


# --- deploy=True: the loader folds an unfused file ------------------------------------------------------
@pytest.mark.parametrize('v2', [False, True], ids=['v1', 'v2'])
def test_deploy_backbone_folds_an_unfused_file_through_init_cfg(tmp_path, v2):
    """The authors' dense checkpoint (unfused, every tensor random) into ConvNeXt(deploy=True) via init_cfg, as
    mmdet/mmseg build it: the unfused model's outputs, with no unfused copy of the model built."""
    ref = randomise_(AuthorsConvNeXt(**SMALL, v2=v2, dense=True), seed=8)
    path = _save(tmp_path / 'dense.pth', {'state_dict': {'backbone.' + k: v for k, v in ref.state_dict().items()}})
    kwargs = dict(layer_scale_init_value=None if v2 else 1.0)
    deploy = ConvNeXt(dict(**SMALL, grn=v2), deploy=True, init_cfg=dict(type='Pretrained', checkpoint=path), **kwargs)
    deploy.init_weights()
    assert not any(k.endswith('.gamma') or '.norm.' in k for k in deploy.state_dict())
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        expected = ref(x)
        got = deploy.eval()(x)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    fused = _save(tmp_path / 'fused.pth', {'state_dict': deploy.state_dict()})  # a fused file loads as it is
    assert load_pretrained(ConvNeXt(dict(**SMALL, grn=v2), deploy=True, **kwargs), fused)['missing'] == []


def test_deploy_backbone_still_names_a_file_of_another_size(tmp_path):
    path = _save(tmp_path / 'small.pth', {'model': ConvNeXt('small', out_norm=False).state_dict()})
    with pytest.raises(
        CheckpointError, match=r"stages have depths.*The file holds arch 'small'.*the model is arch 'tiny'"
    ):
        load_pretrained(ConvNeXt('tiny', deploy=True), path)


def test_convert_state_dict_leaves_its_own_layout_as_it_is(timm_v2_atto):
    """to_classifier_state_dict and the classifier's fine-tuning rename an already converted state dict."""
    once = convert_state_dict(timm_v2_atto.state_dict())
    twice = convert_state_dict(once)
    assert list(twice) == list(once) and all(twice[k] is once[k] for k in once)
