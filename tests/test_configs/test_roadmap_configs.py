"""configs/roadmap: the paper's roadmap recipe for every step (ImageNet-1K), and Mask R-CNN / UperNet configs that
are the ConvNeXt-T configs with any step's backbone. configs/classification/convnext_iso_*: the isotropic recipe.

Full-size models are built on the meta device; one training iteration per step and task runs in
tests/test_models/test_roadmap.py (small regime, demo heads)."""

import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import convnext_dense  # noqa: F401  (registration)
from convnext_dense.apis import load_config
from convnext_dense.models.roadmap_steps import STEPS, resolve_step

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ROADMAP = osp.join(ROOT, 'configs', 'roadmap')
CONFIGS = sorted(glob.glob(osp.join(ROADMAP, '*.py')))
CLASSIFICATION = ['roadmap_r50_in1k.py', 'roadmap_r200_in1k.py']
CIFAR = 'roadmap_r50_cifar100.py'
# roadmap config -> the ConvNeXt-T config it swaps the backbone of, and the task's registry
DENSE = {
    'mask_rcnn_roadmap_r50_1x.py': ('detection/mask_rcnn_convnext_t_1x.py', 'mmdet'),
    'mask_rcnn_roadmap_r50_3x.py': ('detection/mask_rcnn_convnext_t_3x.py', 'mmdet'),
    'upernet_roadmap_r50_512_160k_ade20k.py': ('segmentation/upernet_convnext_t_512_160k_ade20k.py', 'mmseg'),
}
ISOTROPIC = {  # arch, drop path, layer scale, batch per GPU (facebookresearch/ConvNeXt TRAINING.md)
    'convnext_iso_s_in1k.py': ('small', 0.1, 0.0, 128),
    'convnext_iso_b_in1k.py': ('base', 0.2, 0.0, 128),
    'convnext_iso_l_in1k.py': ('large', 0.5, 1e-6, 64),
}


def _registry(scope):
    init_default_scope(scope)
    if scope == 'mmengine':
        from mmengine.registry import MODELS
    else:
        MODELS = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    return MODELS


def _build_on_meta(cfg, scope):
    model_cfg = dict(cfg.model)
    if scope == 'mmengine':
        model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    with torch.device('meta'):
        return _registry(scope).build(model_cfg)


def test_every_config_is_known():
    assert sorted(osp.basename(c) for c in CONFIGS) == sorted(CLASSIFICATION + [CIFAR] + list(DENSE))


def test_cifar_config_is_the_recipe_with_the_data_swapped():
    cfg, recipe = (Config.fromfile(osp.join(ROADMAP, n)) for n in (CIFAR, 'roadmap_r50_in1k.py'))
    assert cfg.model == dict(recipe.model, num_classes=100)
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'auto_scale_lr', 'data_preprocessor', 'custom_hooks'):
        assert cfg[key] == recipe[key], key
    train, test = cfg.train_dataloader.dataset, cfg.test_dataloader.dataset
    assert (train.type, train.split, test.type, test.split) == ('CIFAR100Dataset', 'train', 'CIFAR100Dataset', 'test')
    assert train.data_root == test.data_root == 'data/cifar100'
    # Upsampled to the recipe's input size: the recipe's transforms, whole images for the test split.
    assert train.transform == recipe.train_dataloader.dataset.transform
    assert test.transform == dict(recipe.test_dataloader.dataset.transform, crop_pct=1.0)
    assert {k: v for k, v in cfg.train_dataloader.items() if k != 'dataset'} == {
        k: v for k, v in recipe.train_dataloader.items() if k != 'dataset'
    }


@pytest.mark.parametrize('name', CLASSIFICATION)
def test_roadmap_recipe_is_table_5_without_ema(name):
    """Appendix A.1: Table 5's ImageNet-1K setting with EMA disabled; drop path 0.1 in the ResNet-50 regime."""
    cfg, convnext_t = (
        Config.fromfile(osp.join(ROADMAP, name)),
        Config.fromfile(osp.join(ROOT, 'configs', 'classification', 'convnext_t_in1k.py')),
    )
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.step) == ('ModernizedResNet', 'separate_downsampling')
    assert (backbone.regime, backbone.drop_path_rate) == (('resnet50', 0.1) if 'r50' in name else ('resnet200', 0.5))
    assert not any('EMA' in h['type'] for h in cfg.custom_hooks)
    assert {h['type'] for h in cfg.custom_hooks} == {'NonFiniteLossHook', 'RandomStateHook'}
    for key in (
        'optim_wrapper',
        'param_scheduler',
        'train_cfg',
        'auto_scale_lr',
        'data_preprocessor',
        'train_dataloader',
    ):
        assert cfg[key] == convnext_t[key], key
    assert {k: v for k, v in cfg.model.items() if k != 'backbone'} == {
        k: v for k, v in convnext_t.model.items() if k != 'backbone'
    }


@pytest.mark.parametrize('name', CLASSIFICATION)
def test_every_step_is_an_option(name):
    regime = 'resnet50' if 'r50' in name else 'resnet200'
    for step in STEPS:
        cfg = load_config(osp.join(ROADMAP, name), {'model.backbone.step': step, 'randomness.seed': 2})
        model = _build_on_meta(cfg, 'mmengine')
        assert model.backbone.spec == resolve_step(step, regime) and cfg.randomness.seed == 2
        assert model.head.fc.in_features == resolve_step(step, regime).dims[-1]


@pytest.mark.parametrize('name', sorted(DENSE))
def test_dense_config_is_the_convnext_t_one_with_the_backbone_swapped(name):
    reference_name, scope = DENSE[name]
    cfg = Config.fromfile(osp.join(ROADMAP, name))
    reference = Config.fromfile(osp.join(ROOT, 'configs', reference_name))
    assert set(cfg) - set(reference) == {'roadmap_backbone'} and set(reference) <= set(cfg)
    for key in reference:
        if key not in ('model', 'optim_wrapper'):
            assert cfg[key] == reference[key], key
    assert {k: v for k, v in cfg.model.items() if k != 'backbone'} == {
        k: v for k, v in reference.model.items() if k != 'backbone'
    }
    assert {k: v for k, v in cfg.optim_wrapper.items() if k != 'constructor'} == {
        k: v for k, v in reference.optim_wrapper.items() if k != 'constructor'
    }
    backbone, ref_backbone = cfg.model.backbone, reference.model.backbone
    assert (backbone.type, backbone.step, backbone.regime, backbone.norm_eval) == (
        'ModernizedResNet',
        'separate_downsampling',
        'resnet50',
        True,
    )
    assert backbone.drop_path_rate == ref_backbone.drop_path_rate and backbone.init_cfg == ref_backbone.init_cfg


def _groups(model, optim_cfg):
    optim_cfg = dict(optim_cfg, type='OptimWrapper')  # AmpOptimWrapper needs a GPU; the groups are the same
    groups = build_optim_wrapper(model, optim_cfg).optimizer.param_groups
    return sorted((tuple(sorted(g['param_names'])), g['lr'], g['weight_decay']) for g in groups)


@pytest.mark.parametrize('name', sorted(DENSE))
def test_default_step_trains_as_the_convnext_t_config(name):
    """The same model (parameter names and shapes) and mmdet's / mmseg's own layer-decay groups."""
    reference_name, scope = DENSE[name]
    cfg = Config.fromfile(osp.join(ROADMAP, name))
    reference = Config.fromfile(osp.join(ROOT, 'configs', reference_name))
    model, ref_model = _build_on_meta(cfg, scope), _build_on_meta(reference, scope)

    def shapes(m):
        return {k: tuple(v.shape) for k, v in m.state_dict().items()}

    assert shapes(model) == shapes(ref_model)
    assert _groups(model, cfg.optim_wrapper) == _groups(ref_model, reference.optim_wrapper)


@pytest.mark.parametrize('name', sorted(DENSE))
@pytest.mark.parametrize('step', ['resnet', 'wider', 'gelu'])
def test_other_steps_build_with_the_widths_of_docs_roadmap(name, step):
    _, scope = DENSE[name]
    widths = {'resnet': [256, 512, 1024, 2048], 'wider': [384, 768, 1536, 3072], 'gelu': [96, 192, 384, 768]}[step]
    options = {'model.backbone.step': step}
    if step != 'gelu':  # docs/roadmap.md: the bottleneck steps emit 4x the stage widths
        if scope == 'mmdet':
            options['model.neck.in_channels'] = widths
        else:
            options.update({'model.decode_head.in_channels': widths, 'model.auxiliary_head.in_channels': widths[2]})
    cfg = load_config(osp.join(ROADMAP, name), options)
    model = _build_on_meta(cfg, scope)
    assert list(model.backbone.out_channels) == widths
    heads = model.neck.in_channels if scope == 'mmdet' else model.decode_head.in_channels
    assert list(heads) == widths
    assert len(_groups(model, cfg.optim_wrapper)) > 2  # the layer decay groups the step by its names


# ------------------------------------------------------------------------------------------ isotropic ConvNeXt
@pytest.mark.parametrize('name', sorted(ISOTROPIC))
def test_isotropic_recipe(name):
    """Paper Appendix A.1 and facebookresearch/ConvNeXt TRAINING.md: the ImageNet-1K recipe with a 50-epoch
    warm-up, drop path 0.1/0.2/0.5, layer scale off for S and B, EMA on."""
    arch, drop_path, layer_scale, batch = ISOTROPIC[name]
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'classification', name))
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.arch, backbone.drop_path_rate) == ('ConvNeXtIsotropic', arch, drop_path)
    assert backbone.layer_scale_init_value == layer_scale and cfg.train_dataloader.batch_size == batch
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end, warmup.by_epoch) == ('LinearLR', 0, 50, True)
    assert (cosine.type, cosine.begin, cosine.end, cosine.T_max, cosine.eta_min) == (
        'CosineAnnealingLR',
        50,
        300,
        250,
        1e-6,
    )
    assert cfg.optim_wrapper.optimizer.lr == 4e-3 and cfg.auto_scale_lr.base_batch_size == 4096
    assert [(h.type, h.momentum) for h in cfg.custom_hooks if 'EMA' in h.type] == [('UnswappedEMAHook', 1e-4)]
    with open(osp.join(ROOT, 'configs', 'classification', name)) as f:
        assert f'convnext_iso_{arch}_1k_224_ema.pth' in f.read()  # the released weights, by URL
    model = _build_on_meta(cfg, 'mmengine')
    assert any(n.endswith('.gamma') for n, _ in model.named_parameters()) == (layer_scale > 0)
