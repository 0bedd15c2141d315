"""Every detection config builds, matches the released recipe, wires its neck to its backbone and
trains one step; the layer-wise lr decay of cascade_convnext_t_3x is the paper's.

Full-size models are built on the meta device (no memory, no time) for the structure and parameter
checks. The forward/backward step runs on CPU with a tiny image and few sampled RoIs; for the models
above ConvNeXt-T / Swin-T size the backbone keeps its widths (so the neck wiring is the real one) but
gets fewer blocks, or the step would take minutes.
"""

import glob
import os.path as osp
import tokenize

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import convnext_dense  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DET = osp.join(ROOT, 'configs', 'detection')
# The Mask R-CNN and Cascade Mask R-CNN configs (the other heads: tests/test_configs/test_other_heads.py; the
# box-only Faster / Cascade R-CNN and the custom-data templates: tests/test_configs/test_custom_configs.py).
FAMILIES = ('mask_rcnn_', 'cascade_convnext', 'cascade_swin')
CONFIGS = sorted(
    p
    for p in glob.glob(osp.join(DET, '*.py')) + glob.glob(osp.join(DET, 'demo', '*.py'))
    if osp.basename(p).startswith(FAMILIES)
)
RECIPE_CONFIGS = sorted(p for p in glob.glob(osp.join(DET, '*.py')) if osp.basename(p).startswith(FAMILIES))


def name(path):
    return osp.relpath(path, DET)


@pytest.fixture(scope='module', autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def load(path):
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None  # no pretrained file in tests
    return cfg


def build_on_meta(model_cfg):
    """The full-size model without allocating it (mmdet's Swin calls .item() while building: CPU)."""
    try:
        with torch.device('meta'):
            return MODELS.build(model_cfg)
    except RuntimeError:
        return MODELS.build(model_cfg)


def test_every_config_is_found():
    assert len(RECIPE_CONFIGS) >= 14 and len(CONFIGS) >= 17, [name(c) for c in CONFIGS]


# --------------------------------------------------------------------------------------- conventions
@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_conventions(path):
    cfg = Config.fromfile(path)
    assert 'convnext_dense' in cfg.custom_imports['imports'] and cfg.custom_imports['allow_failed_imports'] is False
    assert cfg.default_scope == 'mmdet'
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16)
    assert {'NumClassCheckHook', 'CocoOutfileHook'} <= {h['type'] for h in cfg.custom_hooks}
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator.type == 'CocoMetric' and evaluator.classwise is True
        assert list(evaluator.metric) == ['bbox', 'segm'] and evaluator.outfile_prefix.startswith('{log_dir}/')
        assert evaluator.ann_file.startswith(cfg.data_root)
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.data_root == cfg.data_root
    assert cfg.tta_model.type == 'InstanceTTAModel' and cfg.tta_pipeline[-1].type == 'TestTimeAug'
    # a recipe variant is a handful of settings over _base_ files; a demo rewrites widths and data. Counted in
    # characters of code (no comments, no whitespace), which the formatter's line breaks do not change: 700 and
    # 2800 are the former limits of 15 and 50 lines at these files' density (about 45 and 56 characters a line).
    size = code_size(path)
    assert size <= (2800 if '/demo/' in path else 700), f'{size} characters of code: a delta, not a copy'


def code_size(path):
    with open(path) as f:
        tokens = tokenize.generate_tokens(f.readline)
        return sum(
            len(t.string)
            for t in tokens
            if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
        )


# ------------------------------------------------------------------------------------------ recipes
# docs/recipes.md detection table: drop path, lr, (decay rate, num_layers), AMP, and the file name of the non-EMA
# ImageNet checkpoint of the authors' release, named by its URL (docs/pretrained_weights.md). V2 follows V1-T
# (no V2 row is released; the V2 release has fine-tuned weights as EMA only). Swin: mmdet's own recipe
# (lr 1e-4, drop path 0.2, no layer decay), AMP as in mmdet's *_amp-ms-crop-3x configs.
RECIPES = {
    'mask_rcnn_convnext_t_1x.py': (0.4, 1e-4, (0.95, 6), True, 'convnext_tiny_1k_224.pth'),
    'mask_rcnn_convnext_t_3x.py': (0.4, 1e-4, (0.95, 6), True, 'convnext_tiny_1k_224.pth'),
    'mask_rcnn_convnextv2_t_3x.py': (0.4, 1e-4, (0.95, 6), True, 'convnextv2_tiny_1k_224_ema.pt'),
    'cascade_convnext_t_3x.py': (0.4, 2e-4, (0.7, 6), True, 'convnext_tiny_1k_224.pth'),
    'cascade_convnextv2_t_3x.py': (0.4, 2e-4, (0.7, 6), True, 'convnextv2_tiny_1k_224_ema.pt'),
    'cascade_convnext_s_3x.py': (0.6, 2e-4, (0.7, 12), True, 'convnext_small_1k_224.pth'),
    'cascade_convnext_b_3x.py': (0.7, 2e-4, (0.8, 12), True, 'convnext_base_1k_224.pth'),
    'cascade_convnext_b_in22k_3x.py': (0.6, 1e-4, (0.8, 12), True, 'convnext_base_22k_224.pth'),
    'cascade_convnext_l_in22k_3x.py': (0.7, 1e-4, (0.7, 12), False, 'convnext_large_22k_224.pth'),
    'cascade_convnext_xl_in22k_3x.py': (0.8, 1e-4, (0.7, 12), False, 'convnext_xlarge_22k_224.pth'),
    # V2-B/L/H: the V1 Cascade recipe of the same width (tests/test_configs/test_v2_dense_configs.py)
    'mask_rcnn_convnextv2_b_3x.py': (0.7, 2e-4, (0.8, 12), True, 'convnextv2_base_1k_224_ema.pt'),
    'mask_rcnn_convnextv2_l_3x.py': (0.7, 1e-4, (0.7, 12), False, 'convnextv2_large_1k_224_ema.pt'),
    'mask_rcnn_convnextv2_h_3x.py': (0.8, 1e-4, (0.7, 12), False, 'convnextv2_huge_1k_224_ema.pt'),
    'mask_rcnn_swin_t_3x.py': (0.2, 1e-4, None, True, 'swin_tiny_patch4_window7_224.pth'),
    'mask_rcnn_swin_s_3x.py': (0.2, 1e-4, None, True, 'swin_small_patch4_window7_224.pth'),
    'cascade_swin_t_3x.py': (0.2, 1e-4, None, True, 'swin_tiny_patch4_window7_224.pth'),
    'cascade_swin_s_3x.py': (0.2, 1e-4, None, True, 'swin_small_patch4_window7_224.pth'),
}
# Parameters (M) of the whole detector as published (ConvNeXt paper Table 3 / Swin paper); Cascade S is 108.
PAPER_PARAMS = {
    'cascade_convnext_t_3x.py': 86,
    'cascade_convnext_s_3x.py': 108,
    'cascade_convnext_b_3x.py': 146,
    'cascade_convnext_b_in22k_3x.py': 146,
    'cascade_convnext_l_in22k_3x.py': 255,
    'cascade_convnext_xl_in22k_3x.py': 407,
    'mask_rcnn_convnext_t_3x.py': 48,
    'mask_rcnn_convnext_t_1x.py': 48,
    'cascade_swin_t_3x.py': 86,
    'cascade_swin_s_3x.py': 107,
    'mask_rcnn_swin_t_3x.py': 48,
    'mask_rcnn_swin_s_3x.py': 69,
}


def test_every_recipe_config_has_a_recipe_row():
    assert sorted(RECIPES) == sorted(osp.basename(c) for c in RECIPE_CONFIGS)


@pytest.mark.parametrize('path', RECIPE_CONFIGS, ids=name)
def test_recipe_hyperparameters(path):
    cfg = Config.fromfile(path)
    drop_path, lr, decay, amp, checkpoint = RECIPES[osp.basename(path)]
    backbone, optim = cfg.model.backbone, cfg.optim_wrapper
    assert backbone.drop_path_rate == drop_path
    assert optim.optimizer == dict(type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=0.05)
    assert optim.type == ('AmpOptimWrapper' if amp else 'OptimWrapper')
    if decay is None:
        assert optim.get('constructor', 'DefaultOptimWrapperConstructor') == 'DefaultOptimWrapperConstructor'
    else:
        assert optim.constructor == 'LearningRateDecayOptimizerConstructor'
        assert optim.paramwise_cfg == dict(decay_rate=decay[0], decay_type='layer_wise', num_layers=decay[1])
        grn = 'v2' in osp.basename(path)
        assert backbone.layer_scale_init_value == (0.0 if grn else 1.0)  # V2 has no layer scale
    one_x = '_1x' in path
    assert cfg.train_cfg.max_epochs == (12 if one_x else 36)
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.by_epoch, warmup.end) == ('LinearLR', 0.001, False, 1000)
    assert steps.milestones == ([8, 11] if one_x else [27, 33]) and steps.gamma == 0.1
    assert cfg.train_dataloader.batch_size == 2
    url = backbone.init_cfg.checkpoint
    assert set(backbone.init_cfg) == {'type', 'checkpoint'} and backbone.init_cfg.type == 'Pretrained'
    assert url.startswith('https://') and url.endswith('/' + checkpoint)


@pytest.mark.parametrize('path', [c for c in RECIPE_CONFIGS if 'cascade' in c], ids=name)
def test_cascade_heads_are_the_papers(path):
    cfg = Config.fromfile(path)
    heads = cfg.model.roi_head.bbox_head
    stds = [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067]]
    assert [h.bbox_coder.target_stds for h in heads] == stds
    for head in heads:
        assert (head.type, head.num_shared_convs, head.num_shared_fcs) == ('ConvFCBBoxHead', 4, 1)
        assert head.norm_cfg == dict(type='SyncBN', requires_grad=True) and head.reg_decoded_bbox is True
        assert head.loss_bbox == dict(type='GIoULoss', loss_weight=10.0)
    assert cfg.model.roi_head.stage_loss_weights == [1, 0.5, 0.25]


@pytest.mark.parametrize('path', RECIPE_CONFIGS, ids=name)
def test_training_augmentation_is_the_papers(path):
    cfg = Config.fromfile(path)
    types = [t.type for t in cfg.train_pipeline]
    assert types == ['LoadImageFromFile', 'LoadAnnotations', 'RandomFlip', 'RandomChoice', 'PackDetInputs']
    resize, crop = cfg.train_pipeline[3].transforms
    multiscale = [(short, 1333) for short in range(480, 801, 32)]
    assert [tuple(s) for s in resize[0].scales] == multiscale
    assert [tuple(s) for s in crop[0].scales] == [(400, 1333), (500, 1333), (600, 1333)]
    assert (crop[1].type, crop[1].crop_type, tuple(crop[1].crop_size)) == ('RandomCrop', 'absolute_range', (384, 600))
    assert [tuple(s) for s in crop[2].scales] == multiscale


def test_swin_configs_differ_from_convnext_only_in_backbone_and_optimizer():
    for swin, convnext in [
        ('cascade_swin_t_3x.py', 'cascade_convnext_t_3x.py'),
        ('mask_rcnn_swin_t_3x.py', 'mask_rcnn_convnext_t_3x.py'),
    ]:
        a, b = Config.fromfile(osp.join(DET, swin)), Config.fromfile(osp.join(DET, convnext))
        assert a.model.backbone.type == 'SwinTransformer'
        for key in ('neck', 'rpn_head', 'roi_head', 'train_cfg', 'test_cfg', 'data_preprocessor'):
            assert a.model[key] == b.model[key], key
        for key in ('train_dataloader', 'val_dataloader', 'val_evaluator', 'param_scheduler', 'train_cfg'):
            assert a[key] == b[key], key


# -------------------------------------------------------------------------------- build and wiring
@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_full_size_model_builds_with_neck_matching_backbone(path):
    cfg = load(path)
    model = build_on_meta(cfg.model)
    backbone_out = getattr(model.backbone, 'out_channels', None)
    if backbone_out is None:  # mmdet's Swin declares no out_channels: its stage widths
        backbone_out = tuple(model.backbone.num_features)
    assert tuple(cfg.model.neck.in_channels) == tuple(backbone_out)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    expected = PAPER_PARAMS.get(osp.basename(path))
    if expected is not None:
        assert abs(params - expected) / expected < 0.015, f'{params:.1f}M parameters, the paper has {expected}M'


def shrunk(cfg):
    """Few RoIs and proposals; backbones beyond T size get one block (ConvNeXt) / two (Swin) per stage."""
    model = cfg.model
    backbone = model.backbone
    if backbone.type == 'ConvNeXt' and isinstance(backbone.arch, str) and backbone.arch not in ('tiny', 'v2-tiny'):
        from convnext_dense.models.convnext import ARCH_SETTINGS

        arch = dict(ARCH_SETTINGS[backbone.arch])
        backbone.arch = dict(arch, depths=[1, 1, 1, 1])
    elif backbone.type == 'SwinTransformer' and sum(backbone.depths) > 12:
        backbone.depths = [2, 2, 2, 2]
    model.train_cfg.rpn_proposal.update(nms_pre=100, max_per_img=32)
    rcnn = model.train_cfg.rcnn if isinstance(model.train_cfg.rcnn, list) else [model.train_cfg.rcnn]
    for stage in rcnn:
        stage.sampler.num = 16
    return model


@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_one_training_step(path):
    torch.manual_seed(0)
    cfg = load(path)
    model = revert_sync_batchnorm(MODELS.build(shrunk(cfg)))  # SyncBN needs a process group
    model.train()
    num_classes = len(cfg.get('metainfo', {}).get('classes', [])) or 80
    packed = demo_mm_inputs(
        batch_size=1, image_shapes=[(3, 64, 96)], num_items=[2], num_classes=num_classes, with_mask=True
    )
    data = model.data_preprocessor(packed, True)
    losses = model(**data, mode='loss')
    loss, log_vars = model.parse_losses(losses)
    assert torch.isfinite(loss) and loss > 0
    assert any(k.startswith('loss_mask') or k.endswith('.loss_mask') for k in log_vars)
    loss.backward()
    stem = next(model.backbone.parameters())
    assert stem.grad is not None and stem.grad.abs().sum() > 0, 'no gradient reaches the backbone'


# ------------------------------------------------------------------------------ layer-wise lr decay
def test_layer_decay_groups_of_cascade_convnext_t():
    cfg = load(osp.join(DET, 'cascade_convnext_t_3x.py'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    optim_cfg = cfg.optim_wrapper
    optim_cfg.type = 'OptimWrapper'  # AmpOptimWrapper refuses to build without a GPU; the constructor is the same
    groups = build_optim_wrapper(model, optim_cfg).optimizer.param_groups
    lookup = {name: group for group in groups for name in group['param_names']}
    rate, num_layers, lr = 0.7, 6, 2e-4

    def expect(name, layer_id, decay):
        group = lookup[name]
        scale = rate ** (num_layers + 2 - layer_id - 1)  # docs/recipes.md: rate ** (num_layers + 2 - id - 1)
        assert group['lr'] == pytest.approx(lr * scale), name
        assert group['weight_decay'] == (0.05 if decay else 0.0), name

    expect('backbone.downsample_layers.0.0.weight', 0, True)  # stem conv
    expect('backbone.downsample_layers.0.0.bias', 0, False)
    expect('backbone.downsample_layers.0.1.weight', 0, False)  # stem LayerNorm
    expect('backbone.stages.0.1.pwconv1.weight', 1, True)
    expect('backbone.downsample_layers.1.1.weight', 2, True)
    expect('backbone.stages.1.2.dwconv.weight', 2, True)
    expect('backbone.downsample_layers.2.1.weight', 3, True)
    expect('backbone.stages.2.0.pwconv2.weight', 3, True)
    expect('backbone.stages.2.4.pwconv1.weight', 4, True)  # stage-2 block 4 -> 3 + 4 // 3
    expect('backbone.stages.2.4.gamma', 4, False)  # layer scale: no weight decay
    expect('backbone.stages.2.8.norm.weight', 5, False)
    expect('backbone.stages.3.2.pwconv1.weight', 6, True)
    expect('backbone.norm3.weight', 7, False)  # output norms are not in the stages: head group
    expect('neck.fpn_convs.0.conv.weight', 7, True)
    expect('roi_head.bbox_head.2.shared_convs.0.conv.weight', 7, True)
    expect('roi_head.bbox_head.2.shared_convs.0.bn.weight', 7, False)
    assert len(lookup) == sum(1 for p in model.parameters() if p.requires_grad)
