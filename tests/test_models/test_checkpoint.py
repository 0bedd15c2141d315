"""Checkpoints of every released layout load into ConvNeXt and give timm's features; bad files fail clearly."""
import pytest
import torch
from timm_reference import fb_state_dict, mmpretrain_state_dict, timm_stage_features

from convnext_dense.models import ConvNeXt, convert_state_dict, load_pretrained
from convnext_dense.models.checkpoint import infer_arch


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
        ckpt = {'state_dict': {**{'backbone.' + k: v for k, v in body.items()},
                               'neck.lateral_convs.0.conv.weight': torch.zeros(1)}, 'meta': {}}
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
    with pytest.raises(ValueError, match=r"other shapes: downsample_layers\.0\.0\.weight: checkpoint \(48, 3, 4, 4\) "
                                         r"vs model \(40, 3, 4, 4\).*holds arch 'v2-femto'"):
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
    assert set(converted) - {'norm.weight', 'norm.bias', 'head.weight', 'head.bias'} == \
        set(ConvNeXt('v2-atto', out_norm=False).state_dict())
