"""Every classification config builds its model and trains one step; the base configs hold the release's recipe."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS
from mmengine.structures import BaseDataElement

import convnext_dense  # noqa: F401  (registration)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', 'classification', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


def _model(cfg):
    model_cfg = dict(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))  # what the Runner does
    return MODELS.build(model_cfg)


def test_configs_are_found():
    names = {osp.basename(p) for p in CONFIGS}
    assert {'convnext_t_in1k.py', 'convnext_s_in1k.py', 'convnext_b_in1k.py', 'convnext_l_in1k.py',
            'convnext_demo.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, osp.join(ROOT, 'configs')))
def test_config_builds_and_trains_one_step(path):
    cfg = Config.fromfile(path)
    torch.manual_seed(0)
    model = _model(cfg).train()
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    samples = [_sample(label) for label in (0, 1)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), training=True)
    assert data['data_samples'][0].gt_score.shape == (cfg.model.num_classes,)  # Mixup is on in every recipe
    loss = model(**data, mode='loss')['loss']
    assert torch.isfinite(loss)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f'no gradient for {missing[:5]}'


def _sample(label):
    sample = BaseDataElement()
    sample.gt_label = torch.tensor(label)
    return sample


SIZES = {'convnext_t_in1k.py': ('tiny', 0.1), 'convnext_s_in1k.py': ('small', 0.4),
         'convnext_b_in1k.py': ('base', 0.5), 'convnext_l_in1k.py': ('large', 0.5)}


@pytest.mark.parametrize('name', sorted(SIZES))
def test_imagenet_configs_hold_the_released_recipe(name):
    """Shared RECIPES.md, "Classification pretraining", value by value."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'classification', name))
    arch, drop_path = SIZES[name]
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.drop_path_rate, backbone.layer_scale_init_value) == (arch, drop_path, 1e-6)
    assert (cfg.model.num_classes, cfg.model.head_init_scale) == (1000, 1.0)
    opt = cfg.optim_wrapper
    assert opt.type == 'OptimWrapper' and opt.get('clip_grad') is None  # fp32, no clipping
    assert (opt.optimizer.type, opt.optimizer.lr, opt.optimizer.weight_decay) == ('AdamW', 4e-3, 0.05)
    assert opt.optimizer.betas == (0.9, 0.999)
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=4096)
    gpus = 4096 // cfg.train_dataloader.batch_size
    assert gpus * cfg.train_dataloader.batch_size == 4096
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 20)
    assert (cosine.type, cosine.begin, cosine.end, cosine.T_max, cosine.eta_min) == (
        'CosineAnnealingLR', 20, 300, 280, 1e-6)
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based
    assert cfg.train_cfg.max_epochs == 300
    train_tf = cfg.train_dataloader.dataset.transform
    assert (train_tf.input_size, train_tf.auto_augment, train_tf.interpolation) == (
        224, 'rand-m9-mstd0.5-inc1', 'bicubic')
    assert cfg.val_dataloader.dataset.transform.crop_pct == 0.875
    pre = cfg.data_preprocessor
    assert pre.random_erasing == dict(probability=0.25, mode='pixel', max_count=1)
    assert pre.mixup == dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch',
                             label_smoothing=0.1)
    ema, = cfg.custom_hooks
    assert (ema.type, ema.momentum) == ('UnswappedEMAHook', 1e-4)


def test_no_weight_decay_on_one_dimensional_parameters():
    """As released: norms, biases, layer-scale gammas (and GRN) are not decayed; weights get 0.05."""
    for name in ('convnext_t_in1k.py', 'convnextv2_t_in1k.py'):
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'classification', name))
        cfg.model.backbone.arch = dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64],
                                       grn=cfg.model.backbone.arch.startswith('v2'))
        model = _model(cfg)
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        decay = {id(p): g['weight_decay'] for g in wrapper.optimizer.param_groups for p in g['params']}
        names = dict(model.named_parameters())
        assert len(decay) == len(names)
        for n, p in names.items():
            assert decay[id(p)] == (0.0 if p.dim() == 1 else 0.05), n
        assert any('.gamma' in n for n in names) or any('.grn.' in n for n in names)
