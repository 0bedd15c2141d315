"""Weights users already have: Hugging Face transformers ConvNeXt / ConvNeXt V2, timm tags, DINOv3 ConvNeXt.

Every file is written by its own library's code from a model with every tensor randomised: transformers'
``save_pretrained`` (safetensors and ``pytorch_model.bin``), timm's ``save_for_hf`` (what timm's Hub repositories
hold). DINOv3 ConvNeXt is not installable here (its repository is not on PyPI; transformers' ``DINOv3ConvNextModel``
is newer than the pinned transformers): its two layouts are module trees with the published names
(``dinov3_layout.py``), checked against transformers' class wherever that is importable. Loading goes through
``load_pretrained`` (strict: every backbone weight present) and the features must be the library's own.
Nothing is downloaded: the Hub is replaced by a folder (``fake_hub``).
"""

import os.path as osp

import pytest
import torch
from dinov3_layout import DINOv3ConvNeXt, HFDINOv3ConvNeXt
from timm_reference import timm_stage_features

from convnext_dense import hf_hub
from convnext_dense.errors import ConfigError
from convnext_dense.hub import WeightsDownloadError
from convnext_dense.models import ConvNeXt, load_pretrained

try:
    import transformers
except ImportError:  # requirements.txt pins it; without it only the transformers layouts go untested
    transformers = None
needs_transformers = pytest.mark.skipif(transformers is None, reason='transformers is not installed')

DEPTHS, DIMS = [2, 1, 3, 1], [8, 16, 32, 64]


def released_grn(self, x):
    """ConvNeXt V2's GRN as the authors release it: the L2 norm of each channel over (H, W)."""
    gx = torch.linalg.vector_norm(x, ord=2, dim=(1, 2), keepdim=True)
    return self.weight * (x * (gx / (gx.mean(dim=-1, keepdim=True) + 1e-6))) + self.bias + x


@pytest.fixture(autouse=True)
def transformers_grn_as_released(monkeypatch):
    """transformers 4.51's ConvNextV2 GRN takes the spectral norm over (H, W) (``torch.linalg.norm`` with
    ``ord=2`` and two dims) where the authors and timm take the L2 norm (``torch.norm(x, p=2, dim=(1, 2))``):
    transformers issue #37748, fixed by pull request #38015 (4.52). With such a version the reference is
    transformers' GRN as fixed there; the weights are the same either way."""
    if transformers is None:
        return
    from transformers.models.convnextv2.modeling_convnextv2 import ConvNextV2GRN

    grn = ConvNextV2GRN(4)
    x = torch.randn(1, 3, 5, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        grn.weight.fill_(1.0)
        if not torch.allclose(grn(x), released_grn(grn, x), atol=1e-6):
            monkeypatch.setattr(ConvNextV2GRN, 'forward', released_grn)


def randomised(model, seed=0):
    """Every tensor of the state dict random (GRN's (1, 1, 1, C) tensors and layer scales included)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g) * (0.5 if t.dim() <= 1 or 'grn' in key else 0.1))
    return model.eval()


def ours(v2=False, **kwargs):
    return ConvNeXt(dict(depths=DEPTHS, dims=DIMS, grn=v2), out_norm=False, **kwargs).eval()


def assert_same(outputs, reference):
    assert len(outputs) == len(reference)
    for a, b in zip(outputs, reference):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def features(model, x):
    with torch.no_grad():
        return list(model(x))


X = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))


# -------------------------------------------------------------------------------------- transformers
def hf_model(kind: str):
    """A randomised transformers model: 'ConvNextModel', 'ConvNextV2ForImageClassification', ..."""
    v2 = 'V2' in kind
    config_cls = transformers.ConvNextV2Config if v2 else transformers.ConvNextConfig
    config = config_cls(
        depths=DEPTHS, hidden_sizes=DIMS, num_labels=5, out_features=['stage1', 'stage2', 'stage3', 'stage4']
    )
    return randomised(getattr(transformers, kind)(config), seed=len(kind))


def hf_stage_outputs(model, x):
    """The stage outputs before any norm: ``hidden_states[1:]`` (``[0]`` is the stem's output)."""
    base = getattr(model, 'convnextv2', None) or getattr(model, 'convnext', None) or model
    with torch.no_grad():
        return list(base(x, output_hidden_states=True).hidden_states[1:])


@needs_transformers
@pytest.mark.parametrize(
    'kind', ['ConvNextModel', 'ConvNextForImageClassification', 'ConvNextV2Model', 'ConvNextV2ForImageClassification']
)
@pytest.mark.parametrize('saved', ['folder', 'safetensors', 'bin', 'shards'])
def test_transformers_files_load_to_transformers_features(tmp_path, kind, saved):
    model = hf_model(kind)
    shard = dict(max_shard_size='20KB') if saved == 'shards' else {}  # model-0000i-of-0000n.safetensors + index
    model.save_pretrained(str(tmp_path), safe_serialization=saved != 'bin', **shard)
    path = {
        'folder': str(tmp_path),
        'safetensors': str(tmp_path / 'model.safetensors'),
        'bin': str(tmp_path / 'pytorch_model.bin'),
        'shards': str(tmp_path),
    }[saved]
    assert (saved == 'shards') == osp.isfile(tmp_path / 'model.safetensors.index.json')
    net = ours(v2='V2' in kind)
    report = load_pretrained(net, path)
    assert report['missing'] == []
    unused = (['head.bias', 'head.weight'] if 'Classification' in kind else []) + ['norm.bias', 'norm.weight']
    assert sorted(report['unexpected']) == unused  # the final norm (and classifier): not the backbone's
    assert_same(features(net, X), hf_stage_outputs(model, X))


@needs_transformers
@pytest.mark.parametrize('kind', ['ConvNextBackbone', 'ConvNextV2Backbone'])
def test_transformers_backbone_loads_its_output_norms(tmp_path, kind):
    """``hidden_states_norms.stage1..4`` are the dense outputs' norms ``norm0..norm3``: every tensor loads."""
    model = hf_model(kind)
    model.save_pretrained(str(tmp_path))
    net = ConvNeXt(dict(depths=DEPTHS, dims=DIMS, grn='V2' in kind)).eval()
    report = load_pretrained(net, str(tmp_path))
    assert report == dict(missing=[], unexpected=[])
    with torch.no_grad():
        reference = list(model(X).feature_maps)
    assert_same(features(net, X), reference)


@needs_transformers
def test_transformers_upernet_checkpoint_gives_its_backbone(tmp_path):
    """UperNetForSemanticSegmentation (openmmlab/upernet-convnext-* on the Hub): backbone.* beside the heads."""
    backbone = transformers.ConvNextConfig(
        depths=DEPTHS, hidden_sizes=DIMS, out_features=['stage1', 'stage2', 'stage3', 'stage4']
    )
    config = transformers.UperNetConfig(backbone_config=backbone, hidden_size=16, auxiliary_channels=8, num_labels=3)
    model = randomised(transformers.UperNetForSemanticSegmentation(config))
    model.save_pretrained(str(tmp_path))
    net = ConvNeXt(dict(depths=DEPTHS, dims=DIMS)).eval()
    assert load_pretrained(net, str(tmp_path)) == dict(missing=[], unexpected=[])
    with torch.no_grad():
        reference = list(model.backbone(X).feature_maps)
    assert_same(features(net, X), reference)


@needs_transformers
def test_a_transformers_file_of_another_size_is_an_error(tmp_path):
    hf_model('ConvNextModel').save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match=r'does not fit this ConvNeXt: .*holds a custom arch \(depths \(2, 1, 3, 1\)'):
        load_pretrained(ConvNeXt(dict(depths=[1, 1, 1, 1], dims=DIMS)), str(tmp_path))


def test_a_folder_without_weights_is_an_error(tmp_path):
    (tmp_path / 'config.json').write_text('{}')
    with pytest.raises(FileNotFoundError, match=r'is a folder without model weights: looked for model.safetensors'):
        load_pretrained(ours(), str(tmp_path))


# -------------------------------------------------------------------------------------------- DINOv3
def dinov3_tree(kind: str):
    return randomised(DINOv3ConvNeXt(DEPTHS, DIMS) if kind == 'dinov3' else HFDINOv3ConvNeXt(DEPTHS, DIMS), seed=3)


@pytest.mark.parametrize('kind', ['dinov3', 'transformers'])
def test_dinov3_convnext_loads_to_its_features(tmp_path, kind):
    """DINOv3's own files (``{'model': ...}``-less state dicts, .pth) and transformers' (safetensors)."""
    from safetensors.torch import save_file

    tree = dinov3_tree(kind)
    if kind == 'dinov3':
        path = str(tmp_path / 'dinov3_convnext_custom_pretrain_lvd1689m-00000000.pth')
        torch.save(tree.state_dict(), path)
    else:
        path = str(tmp_path / 'model.safetensors')
        save_file({k: v.contiguous() for k, v in tree.state_dict().items()}, path)
    net = ours()
    report = load_pretrained(net, path)
    assert report['missing'] == [] and sorted(report['unexpected']) == ['norm.bias', 'norm.weight']
    with torch.no_grad():
        assert_same(features(net, X), tree.stage_outputs(X))


def test_dinov3_norms_3_is_its_final_norm():
    from convnext_dense.models import convert_state_dict

    tree = dinov3_tree('dinov3')
    converted = convert_state_dict(tree.state_dict())
    assert not any(k.startswith('norms.') for k in converted)
    assert torch.equal(converted['norm.weight'], tree.norm.weight)


@needs_transformers
def test_hf_dinov3_tree_matches_transformers_when_installed():
    if not hasattr(transformers, 'DINOv3ConvNextModel'):
        pytest.skip(f'transformers {transformers.__version__} has no DINOv3ConvNextModel (>= 4.56)')
    config = transformers.DINOv3ConvNextConfig(depths=DEPTHS, hidden_sizes=DIMS)
    model = randomised(transformers.DINOv3ConvNextModel(config))
    tree = HFDINOv3ConvNeXt(DEPTHS, DIMS).eval()
    assert list(tree.state_dict()) == list(model.state_dict())
    tree.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert_same(tree.stage_outputs(X), list(model(X, output_hidden_states=True).hidden_states[1:]))


# ---------------------------------------------------------------------------------- timm tags, the Hub
def test_timm_tag_means_timms_hub_file():
    weights = hf_hub.resolve('timm:convnext_base.fb_in22k_ft_in1k')
    assert (weights.repo_id, weights.revision) == ('timm/convnext_base.fb_in22k_ft_in1k', None)
    assert weights.url() == 'https://huggingface.co/timm/convnext_base.fb_in22k_ft_in1k/resolve/main/model.safetensors'
    assert weights.origin == 'https://dl.fbaipublicfiles.com/convnext/convnext_base_22k_1k_224.pth'
    text = weights.describe()
    assert (
        text.startswith('timm:convnext_base.fb_in22k_ft_in1k = https://huggingface.co/timm/') and weights.origin in text
    )


def test_timm_name_without_a_tag_means_timms_default_tag():
    import timm

    weights = hf_hub.resolve('timm:convnext_tiny')
    default = timm.models.get_pretrained_cfg('convnext_tiny').tag
    assert weights.name == f'timm:convnext_tiny.{default}' and weights.repo_id == f'timm/convnext_tiny.{default}'


def test_unknown_timm_tag_suggests_close_ones():
    with pytest.raises(
        ConfigError, match=r"'timm:convnext_base.fb_in22k_ft_inlk' is not a pretrained model of timm"
    ) as info:
        hf_hub.resolve('timm:convnext_base.fb_in22k_ft_inlk')
    assert 'timm:convnext_base.fb_in22k_ft_in1k' in str(info.value)
    with pytest.raises(ConfigError, match=r"is a timm 'resnet50', not a ConvNeXt"):
        hf_hub.resolve('timm:resnet50.a1_in1k')


def test_hub_repository_names():
    weights = hf_hub.resolve('hf-hub:facebook/convnextv2-tiny-1k-224@refs/pr/1')
    assert (weights.repo_id, weights.revision) == ('facebook/convnextv2-tiny-1k-224', 'refs/pr/1')
    for bad in ('hf-hub:convnext-tiny-224', 'hf-hub:a/b/c', 'hf-hub:'):
        with pytest.raises(ConfigError, match='hf-hub:<owner>/<name>'):
            hf_hub.resolve(bad)


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """``huggingface_hub.hf_hub_download`` answered from ``tmp_path/hub/<repo_id>/``; the requests are recorded."""
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError

    root, requests = tmp_path / 'hub', []

    def download(repo_id, filename, revision=None, local_dir=None, **kwargs):
        requests.append((repo_id, filename))
        path = root / repo_id / filename
        if not path.is_file():
            raise EntryNotFoundError(f'{repo_id} has no {filename}')
        return str(path)

    monkeypatch.setattr(huggingface_hub, 'hf_hub_download', download)
    return root, requests


@pytest.mark.parametrize('safe', [True, False], ids=['safetensors', 'bin'])
def test_timm_tag_loads_timms_file(fake_hub, timm_v2_atto, safe):
    from timm.models._hub import save_for_hf

    root, requests = fake_hub
    save_for_hf(timm_v2_atto, str(root / 'timm' / 'convnextv2_atto.fcmae_ft_in1k'), safe_serialization=safe)
    net = ConvNeXt(
        'v2-atto', out_norm=False, init_cfg=dict(type='Pretrained', checkpoint='timm:convnextv2_atto.fcmae_ft_in1k')
    )
    net.init_weights()
    expected = [('timm/convnextv2_atto.fcmae_ft_in1k', 'model.safetensors')]
    assert requests == expected + ([] if safe else [('timm/convnextv2_atto.fcmae_ft_in1k', 'pytorch_model.bin')])
    assert_same(features(net.eval(), X), timm_stage_features(timm_v2_atto, X))


@needs_transformers
def test_hub_repository_of_a_transformers_model_loads(fake_hub):
    root, requests = fake_hub
    model = hf_model('ConvNextV2ForImageClassification')
    model.save_pretrained(str(root / 'facebook' / 'convnextv2-custom'))
    net = ours(v2=True)
    load_pretrained(net, 'hf-hub:facebook/convnextv2-custom')
    assert requests == [('facebook/convnextv2-custom', 'model.safetensors')]
    assert_same(features(net, X), hf_stage_outputs(model, X))


def test_offline_and_not_cached_says_what_to_do(fake_hub, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(*args, **kwargs):
        raise LocalEntryNotFoundError(
            'Cannot find the requested files in the disk cache and outgoing traffic is disabled'
        )

    monkeypatch.setattr(huggingface_hub, 'hf_hub_download', offline)
    with pytest.raises(WeightsDownloadError) as info:
        load_pretrained(ours(), 'timm:convnext_tiny.fb_in1k')
    text = str(info.value)
    assert text.startswith(
        'Could not get timm:convnext_tiny.fb_in1k (https://huggingface.co/timm/convnext_tiny.fb_in1k/'
    )
    assert '--name timm:convnext_tiny.fb_in1k' in text and 'model.backbone.init_cfg.checkpoint=/path/to/' in text


def test_a_repository_without_pytorch_weights(fake_hub):
    (fake_hub[0] / 'someone' / 'flax-only').mkdir(parents=True)
    with pytest.raises(WeightsDownloadError, match='has neither model.safetensors nor pytorch_model.bin'):
        load_pretrained(ours(), 'hf-hub:someone/flax-only')


def test_preflight_names_the_file_a_tag_means_and_rejects_an_unknown_one(tmp_path, monkeypatch):
    from convnext_dense.apis.preflight import _check_weights

    monkeypatch.setattr(hf_hub, 'cached', lambda weights: None)
    cfg = dict(model=dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='timm:convnext_tiny.fb_in1k'))))
    problems, notes = _check_weights(cfg, 'cfg.py')
    assert problems == [] and len(notes) == 1
    assert notes[0].startswith(
        'weights: timm:convnext_tiny.fb_in1k = https://huggingface.co/timm/convnext_tiny.fb_in1k/'
    )
    cfg['model']['backbone']['init_cfg']['checkpoint'] = 'timm:convnext_tiny.nope'
    problems, notes = _check_weights(cfg, 'cfg.py')
    assert notes == [] and problems[0][0] == 'weights'
    assert problems[0][1].startswith(
        "model.backbone.init_cfg.checkpoint: 'timm:convnext_tiny.nope' is not a pretrained"
    )


def test_download_tool_fetches_a_tag_and_says_which_file(fake_hub, timm_v2_atto, monkeypatch, capsys):
    import runpy
    import sys

    from timm.models._hub import save_for_hf

    root, requests = fake_hub
    save_for_hf(timm_v2_atto, str(root / 'timm' / 'convnextv2_atto.fcmae_ft_in1k'), safe_serialization=True)
    tool = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools', 'download_weights.py')
    monkeypatch.setattr(sys, 'argv', ['download_weights.py', '--name', 'timm:convnextv2_atto.fcmae_ft_in1k'])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(tool, run_name='__main__')
    out = capsys.readouterr().out.splitlines()
    assert info.value.code == 0 and requests == [('timm/convnextv2_atto.fcmae_ft_in1k', 'model.safetensors')]
    assert out[0].startswith('timm:convnextv2_atto.fcmae_ft_in1k = https://huggingface.co/timm/convnextv2_atto')
    assert out[1] == str(root / 'timm' / 'convnextv2_atto.fcmae_ft_in1k' / 'model.safetensors')
