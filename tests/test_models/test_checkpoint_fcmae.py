"""ConvNeXt V2 FCMAE pre-training files (sparse ``encoder.*``) load into the dense backbone and classifier.

The files are saved from :mod:`fcmae_layout`'s ``FCMAE`` (the released module tree, MinkowskiEngine's
parameter shapes) with every tensor randomised; the reference features are computed from the sparse
tensors by MinkowskiEngine's rules, not from converted weights.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fcmae_layout import FCMAE
from timm_reference import randomise_

import convnext_dense  # noqa: F401  (registration)
from convnext_dense.models import ConvNeXt, ConvNeXtClassifier, convert_state_dict, load_pretrained
from convnext_dense.models.state_dict import infer_arch, is_fcmae

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(depths=(2, 1, 3, 1), dims=(16, 24, 32, 40))


@pytest.fixture(scope='module')
def fcmae_file(tmp_path_factory):
    ref = randomise_(FCMAE(**SMALL), seed=11)
    path = tmp_path_factory.mktemp('fcmae') / 'convnextv2_small_1k_224_fcmae.pt'
    torch.save({'model': ref.state_dict()}, path)
    return ref, str(path)


def _assert_close_features(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_the_file_has_the_released_layout(fcmae_file):
    ref, _ = fcmae_file
    sd = ref.state_dict()
    assert sd['encoder.stages.1.0.dwconv.kernel'].shape == (49, 24)
    assert sd['encoder.stages.1.0.dwconv.bias'].shape == (1, 24)
    assert sd['encoder.downsample_layers.2.1.kernel'].shape == (4, 24, 32)
    assert sd['encoder.downsample_layers.2.0.ln.weight'].shape == (24,)
    assert sd['encoder.stages.0.1.pwconv1.linear.weight'].shape == (64, 16)
    assert sd['encoder.stages.3.0.grn.gamma'].shape == (1, 160)
    assert {'mask_token', 'proj.weight', 'pred.weight', 'decoder.0.grn.gamma'} <= set(sd)
    assert is_fcmae(sd) and not is_fcmae(convert_state_dict(sd))


@pytest.mark.parametrize('hw', [(64, 96), (96, 64)])
def test_encoder_loads_into_the_backbone_with_the_sparse_encoders_features(fcmae_file, hw):
    ref, path = fcmae_file
    net = ConvNeXt(dict(**SMALL, grn=True), layer_scale_init_value=0.0, out_norm=False).eval()
    report = load_pretrained(net, path)
    assert report['missing'] == [] and report['unexpected'] == []  # decoder, proj, pred, mask_token: not read
    x = torch.randn(1, 3, *hw, generator=torch.Generator().manual_seed(hw[0]))
    with torch.no_grad():
        _assert_close_features(net(x), ref.encoder.stage_outputs(x))


def test_dense_backbone_starts_its_out_norms_fresh(fcmae_file):
    _, path = fcmae_file
    report = load_pretrained(ConvNeXt(dict(**SMALL, grn=True), layer_scale_init_value=0.0), path)
    assert report['missing'] == [f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias')]


def test_classifier_fine_tunes_from_it_with_a_fresh_norm_and_head(fcmae_file):
    ref, path = fcmae_file
    model = ConvNeXtClassifier(
        dict(type='ConvNeXt', arch=dict(**SMALL, grn=True), layer_scale_init_value=0.0),
        num_classes=5,
        head_init_scale=0.001,
        finetune=dict(checkpoint=path, keep_head=False),
    )
    model.init_weights()
    assert torch.equal(model.head.norm.weight, torch.ones(40)) and torch.equal(model.head.norm.bias, torch.zeros(40))
    assert model.head.fc.weight.abs().max() < 0.01  # trunc-normal(0.02) x head_init_scale, not the file's
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        _assert_close_features([model.eval().extract_feat(x)], ref.encoder.stage_outputs(x)[-1:])


def test_convert_state_dict_gives_the_arch_and_dense_shapes(fcmae_file):
    ref, _ = fcmae_file
    state = convert_state_dict(ref.state_dict())
    assert infer_arch(state) == dict(depths=SMALL['depths'], dims=SMALL['dims'], grn=True)
    assert state['stages.1.0.dwconv.weight'].shape == (24, 1, 7, 7)
    assert state['downsample_layers.2.1.weight'].shape == (32, 24, 2, 2)
    assert state['stages.3.0.grn.weight'].shape == (160,) and state['stages.1.0.dwconv.bias'].shape == (24,)
    assert not any(k.startswith(('decoder', 'proj', 'pred', 'mask_token', 'encoder')) for k in state)
    # the kernel index is h + 7 * w: offset (dh, dw) = (-3 + 1, -3 + 2) is index 1 + 7 * 2
    kernel = ref.state_dict()['encoder.stages.1.0.dwconv.kernel']
    assert torch.equal(state['stages.1.0.dwconv.weight'][:, 0, 1, 2], kernel[1 + 7 * 2])


def test_convert_tool_writes_a_file_the_backbone_loads(fcmae_file, tmp_path):
    ref, path = fcmae_file
    out = tmp_path / 'converted.pth'
    done = subprocess.run(
        [sys.executable, str(ROOT / 'tools/convert_checkpoint.py'), path, str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert 'depths (2, 1, 3, 1)' in done.stdout
    net = ConvNeXt(dict(**SMALL, grn=True), layer_scale_init_value=0.0, out_norm=False).eval()
    load_pretrained(net, str(out))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        _assert_close_features(net(x), ref.encoder.stage_outputs(x))


def test_a_kernel_of_another_shape_is_named(tmp_path):
    sd = {'encoder.stages.0.0.dwconv.kernel': torch.zeros(48, 8)}
    with pytest.raises(ValueError, match=r'stages\.0\.0\.dwconv\.kernel.*\(48, 8\).*K\*K'):
        convert_state_dict(sd)


def test_v2_fine_tuning_config_starts_from_an_fcmae_file(tmp_path):
    """configs/classification/convnextv2_atto_fcmae_ft_in1k.py as released, its file swapped for a local one."""
    from mmengine.config import Config
    from mmengine.registry import MODELS

    ref = randomise_(FCMAE(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320)), seed=5)
    path = tmp_path / 'convnextv2_atto_1k_224_fcmae.pt'
    torch.save({'model': ref.state_dict()}, path)
    cfg = Config.fromfile(str(ROOT / 'configs/classification/convnextv2_atto_fcmae_ft_in1k.py'))
    assert cfg.model.finetune.checkpoint.endswith('/pt_only/convnextv2_atto_1k_224_fcmae.pt')
    cfg.merge_from_dict({'model.finetune.checkpoint': str(path)})
    model = MODELS.build(cfg.model)
    model.init_weights()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        _assert_close_features([model.eval().extract_feat(x)], ref.encoder.stage_outputs(x)[-1:])
