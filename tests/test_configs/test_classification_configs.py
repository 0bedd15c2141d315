"""Every classification config builds its model and trains one step; the base configs hold the release's recipe."""

import copy
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
CONFIGS = sorted(
    p
    for p in glob.glob(osp.join(ROOT, 'configs', 'classification', '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(p, ROOT).split(osp.sep)
)


def _model(cfg, shrink=False):
    """The config's model; ``shrink``: one block per stage at widths 8..64 (GRN kept), no fine-tuning file.

    The classifier has no neck whose wiring the real widths would check, and the recipes' sizes are checked
    by value (test_*_recipe below); the step checks that the loss, Mixup setting and optimiser fit together.
    """
    model_cfg = dict(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))  # what the Runner does
    if shrink:
        model_cfg['finetune'] = None  # no download; tests/test_models/test_classifier_finetune.py loads
        arch = model_cfg['backbone'].get('arch')
        if model_cfg['backbone']['type'] == 'ConvNeXtIsotropic':  # its own sizes: two blocks of 32 channels
            model_cfg['backbone'] = dict(model_cfg['backbone'], arch=dict(depth=2, dim=32))
        elif isinstance(arch, str):
            from convnext_dense.models.convnext import ARCH_SETTINGS

            grn = ARCH_SETTINGS[arch].get('grn', False)
            model_cfg['backbone'] = dict(
                model_cfg['backbone'], arch=dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64], grn=grn)
            )
    return MODELS.build(model_cfg)


def test_configs_are_found():
    names = {osp.basename(p) for p in CONFIGS}
    assert {
        'convnext_t_in1k.py',
        'convnext_s_in1k.py',
        'convnext_b_in1k.py',
        'convnext_l_in1k.py',
        'convnext_demo.py',
    } | set(PRETRAIN_22K) | set(FINETUNE_V1) | set(FINETUNE_V2) <= names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, osp.join(ROOT, 'configs')))
def test_config_builds_and_trains_one_step(path):
    """The config's model, data preprocessor and optimiser (layer decay included) take one step."""
    cfg = Config.fromfile(path)
    torch.manual_seed(0)
    model = _model(cfg, shrink=True).train()
    model.init_weights()
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    samples = [_sample(label) for label in (0, 1)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), training=True)
    mixup = cfg.data_preprocessor.get('mixup') is not None
    assert ('gt_score' in data['data_samples'][0]) == mixup
    if mixup:
        assert data['data_samples'][0].gt_score.shape == (cfg.model.num_classes,)
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if optim_cfg.type == 'AmpOptimWrapper':
        optim_cfg.type = 'OptimWrapper'  # AMP needs a GPU; the parameter groups are the same
    wrapper = build_optim_wrapper(model, optim_cfg)
    loss = model(**data, mode='loss')['loss']
    assert torch.isfinite(loss)
    stem = next(p for p in model.backbone.parameters() if p.dim() == 4)  # the stem conv, of either ConvNeXt
    before = stem.detach().clone()
    wrapper.backward(loss)
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f'no gradient for {missing[:5]}'
    wrapper.step()
    assert not torch.equal(before, stem)


def _sample(label):
    sample = BaseDataElement()
    sample.gt_label = torch.tensor(label)
    return sample


SIZES = {
    'convnext_t_in1k.py': ('tiny', 0.1),
    'convnext_s_in1k.py': ('small', 0.4),
    'convnext_b_in1k.py': ('base', 0.5),
    'convnext_l_in1k.py': ('large', 0.5),
}


@pytest.mark.parametrize('name', sorted(SIZES))
def test_imagenet_configs_hold_the_released_recipe(name):
    """facebookresearch/ConvNeXt TRAINING.md ("ImageNet-1K Training") and main.py defaults, value by value."""
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
        'CosineAnnealingLR',
        20,
        300,
        280,
        1e-6,
    )
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based
    assert cfg.train_cfg.max_epochs == 300
    train_tf = cfg.train_dataloader.dataset.transform
    assert (train_tf.input_size, train_tf.auto_augment, train_tf.interpolation) == (
        224,
        'rand-m9-mstd0.5-inc1',
        'bicubic',
    )
    assert cfg.val_dataloader.dataset.transform.crop_pct == 0.875
    pre = cfg.data_preprocessor
    assert pre.random_erasing == dict(probability=0.25, mode='pixel', max_count=1)
    assert pre.mixup == dict(
        mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch', label_smoothing=0.1
    )
    assert [(h.type, h.momentum) for h in cfg.custom_hooks if 'EMA' in h.type] == [('UnswappedEMAHook', 1e-4)]


def test_no_weight_decay_on_one_dimensional_parameters():
    """As released: norms, biases, layer-scale gammas (and GRN) are not decayed; weights get 0.05."""
    for name in ('convnext_t_in1k.py', 'convnextv2_t_in1k.py'):
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'classification', name))
        cfg.model.backbone.arch = dict(
            depths=[1, 1, 1, 1], dims=[8, 16, 32, 64], grn=cfg.model.backbone.arch.startswith('v2')
        )
        model = _model(cfg)
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        decay = {id(p): g['weight_decay'] for g in wrapper.optimizer.param_groups for p in g['params']}
        names = dict(model.named_parameters())
        assert len(decay) == len(names)
        for n, p in names.items():
            assert decay[id(p)] == (0.0 if p.dim() == 1 else 0.05), n
        assert any('.gamma' in n for n in names) or any('.grn.' in n for n in names)


# ------------------------------------------------------------------------------------------------------------
# The authors' recipes, value by value. V1: facebookresearch/ConvNeXt TRAINING.md (commands) and main.py
# defaults; V2: facebookresearch/ConvNeXt-V2 TRAINING.md and main_finetune.py (lr = blr x batch / 256).
FB = 'https://dl.fbaipublicfiles.com/convnext/'

# ImageNet-22K pre-training: arch, drop path. Shared: 16 nodes x 8 GPUs x 32 = 4096, lr 4e-3, 90 epochs,
# 5 warm-up, 21841 classes, no EMA, --disable_eval, the 1K augmentation (Mixup/CutMix, erasing, smoothing).
PRETRAIN_22K = {
    'convnext_b_in22k.py': ('base', 0.1),
    'convnext_l_in22k.py': ('large', 0.1),
    'convnext_xl_in22k.py': ('xlarge', 0.2),
}
# V1 fine-tuning: arch, drop path, input size, batch per GPU, GPUs, layer decay, EMA, starting file.
# Shared: lr 5e-5 at batch 512, wd 1e-8, 30 epochs, no warm-up, head init 0.001, --mixup 0 --cutmix 0.
FINETUNE_V1 = {
    'convnext_b_in22k_ft_in1k_224.py': ('base', 0.2, 224, 32, 16, 0.8, False, 'convnext_base_22k_224.pth'),
    'convnext_l_in22k_ft_in1k_224.py': ('large', 0.3, 224, 32, 16, 0.8, False, 'convnext_large_22k_224.pth'),
    'convnext_xl_in22k_ft_in1k_224.py': ('xlarge', 0.4, 224, 16, 32, 0.8, True, 'convnext_xlarge_22k_224.pth'),
    'convnext_b_in22k_ft_in1k_384.py': ('base', 0.2, 384, 16, 32, 0.8, False, 'convnext_base_22k_224.pth'),
    'convnext_l_in22k_ft_in1k_384.py': ('large', 0.3, 384, 16, 32, 0.8, False, 'convnext_large_22k_224.pth'),
    'convnext_xl_in22k_ft_in1k_384.py': ('xlarge', 0.4, 384, 8, 64, 0.8, True, 'convnext_xlarge_22k_224.pth'),
    'convnext_b_in1k_ft_384.py': ('base', 0.8, 384, 32, 16, 0.7, False, 'convnext_base_1k_224_ema.pth'),
    'convnext_l_in1k_ft_384.py': ('large', 0.95, 384, 32, 16, 0.7, False, 'convnext_large_1k_224_ema.pth'),
}
# V2 fine-tuning of the FCMAE encoder: arch, blr, epochs, warm-up, layer decay type, rate, wd, drop path,
# Mixup/CutMix, label smoothing. Shared: 4 nodes x 8 GPUs x 32 = 1024, EMA 0.9999, AMP, reprob 0.25.
_ATTO = (2e-4, 600, 0, 'single', 0.9, 0.3, 0.1, False, 0.2)  # TRAINING.md "ConvNeXt-A"
_TINY = (8e-4, 300, 40, 'single', 0.9, 0.05, 0.2, True, 0.1)  # TRAINING.md "ConvNeXt-T"
_BASE = (6.25e-4, 100, 20, 'layer_wise', 0.6, 0.05, 0.1, True, 0.1)  # TRAINING.md, V2-B ('group')
FINETUNE_V2 = {
    'convnextv2_atto_fcmae_ft_in1k.py': ('v2-atto', *_ATTO),
    'convnextv2_tiny_fcmae_ft_in1k.py': ('v2-tiny', *_TINY),
    'convnextv2_base_fcmae_ft_in1k.py': ('v2-base', *_BASE),
    # not in TRAINING.md: the configs say they reuse the A (F/P/N) and B (L/H) commands unchanged
    'convnextv2_femto_fcmae_ft_in1k.py': ('v2-femto', *_ATTO),
    'convnextv2_pico_fcmae_ft_in1k.py': ('v2-pico', *_ATTO),
    'convnextv2_nano_fcmae_ft_in1k.py': ('v2-nano', *_ATTO),
    'convnextv2_large_fcmae_ft_in1k.py': ('v2-large', *_BASE),
    'convnextv2_huge_fcmae_ft_in1k.py': ('v2-huge', *_BASE),
}
UNVERIFIED_V2 = {
    'convnextv2_femto_fcmae_ft_in1k.py',
    'convnextv2_pico_fcmae_ft_in1k.py',
    'convnextv2_nano_fcmae_ft_in1k.py',
    'convnextv2_large_fcmae_ft_in1k.py',
    'convnextv2_huge_fcmae_ft_in1k.py',
}


def _load(name):
    return Config.fromfile(osp.join(ROOT, 'configs', 'classification', name))


def _ema_hooks(cfg):
    """Momentum of each EMA hook (momentum = 1 - decay)."""
    return [h.momentum for h in cfg.custom_hooks if 'EMA' in h.type]


def _schedule(cfg):
    """(warm-up epochs, total epochs, eta_min) of a LinearLR + CosineAnnealingLR or a cosine-only schedule."""
    *warmup, cosine = cfg.param_scheduler
    assert cosine.type == 'CosineAnnealingLR' and cosine.convert_to_iter_based and cosine.by_epoch
    assert cosine.T_max == cosine.end - cosine.begin
    if warmup:
        (w,) = warmup
        assert (w.type, w.begin, w.end, w.start_factor) == ('LinearLR', 0, cosine.begin, 1e-3)
    else:
        assert cosine.begin == 0
    assert cosine.end == cfg.train_cfg.max_epochs
    return cosine.begin, cosine.end, cosine.eta_min


@pytest.mark.parametrize('name', sorted(PRETRAIN_22K))
def test_imagenet22k_pretraining_recipe(name):
    arch, drop_path = PRETRAIN_22K[name]
    cfg = _load(name)
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.drop_path_rate, backbone.layer_scale_init_value) == (arch, drop_path, 1e-6)
    assert (cfg.model.num_classes, cfg.model.head_init_scale, cfg.model.get('finetune')) == (21841, 1.0, None)
    assert cfg.train_dataloader.batch_size * 128 == 4096 and cfg.auto_scale_lr.base_batch_size == 4096
    assert (cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay) == (4e-3, 0.05)
    assert cfg.optim_wrapper.get('constructor') is None  # no layer decay in pre-training
    assert _schedule(cfg) == (5, 90, 1e-6)
    assert not _ema_hooks(cfg)  # no --model_ema
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.default_hooks.checkpoint.save_best is None
    data = cfg.train_dataloader.dataset
    assert (data.type, data.data_root, data.ann_file) == ('ImageFolderDataset', 'data/imagenet21k', 'meta/train.txt')
    assert data.transform.auto_augment == 'rand-m9-mstd0.5-inc1'
    assert cfg.data_preprocessor.mixup == dict(
        mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch', label_smoothing=0.1
    )
    assert cfg.data_preprocessor.random_erasing.probability == 0.25


@pytest.mark.parametrize('name', sorted(FINETUNE_V1))
def test_v1_finetuning_recipe(name):
    arch, drop_path, size, per_gpu, gpus, decay, ema, start = FINETUNE_V1[name]
    cfg = _load(name)
    assert (cfg.model.backbone.arch, cfg.model.backbone.drop_path_rate) == (arch, drop_path)
    assert cfg.model.backbone.layer_scale_init_value == 1e-6  # overwritten by the checkpoint's gammas
    assert (cfg.model.num_classes, cfg.model.head_init_scale, cfg.model.label_smoothing) == (1000, 0.001, 0.1)
    assert cfg.model.finetune == dict(checkpoint=FB + start)
    assert per_gpu * gpus == 512 == cfg.auto_scale_lr.base_batch_size and cfg.train_dataloader.batch_size == per_gpu
    opt = cfg.optim_wrapper
    assert (opt.type, opt.optimizer.type, opt.optimizer.lr, opt.optimizer.weight_decay) == (
        'OptimWrapper',
        'AdamW',
        5e-5,
        1e-8,
    )
    assert opt.constructor == 'ClsLayerDecayOptimWrapperConstructor'
    assert opt.paramwise_cfg == dict(decay_rate=decay, decay_type='layer_wise', num_layers=12)
    assert _schedule(cfg) == (0, 30, 1e-6)
    assert cfg.data_preprocessor.mixup is None and cfg.data_preprocessor.random_erasing.probability == 0.25
    assert _ema_hooks(cfg) == ([1e-4] if ema else [])
    train_tf, val_tf = cfg.train_dataloader.dataset.transform, cfg.val_dataloader.dataset.transform
    assert (train_tf.input_size, train_tf.auto_augment) == (size, 'rand-m9-mstd0.5-inc1')
    if size >= 384:  # the release warps to size x size for evaluation at 384 and above
        assert (val_tf.input_size, val_tf.crop_pct, val_tf.crop_mode) == (384, 1.0, 'squash')
    else:
        assert (val_tf.input_size, val_tf.crop_pct) == (224, 0.875)


@pytest.mark.parametrize('name', sorted(FINETUNE_V2))
def test_v2_finetuning_recipe(name):
    arch, blr, epochs, warmup, decay_type, decay, wd, drop_path, mixup, smoothing = FINETUNE_V2[name]
    cfg = _load(name)
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.drop_path_rate, backbone.layer_scale_init_value) == (arch, drop_path, 0.0)
    assert (cfg.model.num_classes, cfg.model.head_init_scale, cfg.model.label_smoothing) == (1000, 0.001, smoothing)
    size = arch[len('v2-') :]
    assert cfg.model.finetune == dict(
        checkpoint=f'{FB}convnextv2/pt_only/convnextv2_{size}_1k_224_fcmae.pt', keep_head=False
    )
    assert cfg.train_dataloader.batch_size * 32 == 1024 == cfg.auto_scale_lr.base_batch_size
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper' and opt.constructor == 'ClsLayerDecayOptimWrapperConstructor'
    assert opt.optimizer.lr == pytest.approx(blr * 1024 / 256) and opt.optimizer.weight_decay == wd
    expected_decay = dict(decay_rate=decay, decay_type=decay_type)
    if decay_type == 'layer_wise':
        expected_decay['num_layers'] = 12  # V2's 'group': the V1 12-layer grouping
    assert opt.paramwise_cfg == expected_decay
    assert _schedule(cfg) == (warmup, epochs, 1e-6)
    pre = cfg.data_preprocessor
    assert (pre.mixup is not None) == mixup and pre.random_erasing.probability == 0.25
    if mixup:
        assert (pre.mixup.mixup_alpha, pre.mixup.cutmix_alpha, pre.mixup.label_smoothing) == (0.8, 1.0, smoothing)
    assert _ema_hooks(cfg) == [1e-4]
    with open(osp.join(ROOT, 'configs', 'classification', name)) as f:
        assert ('NOT VERIFIED' in f.read()) == (name in UNVERIFIED_V2)
