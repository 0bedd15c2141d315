"""The heads beyond the paper's (DINO and RetinaNet in mmdet, Mask2Former and DeepLabV3+ in mmseg), each on the
framework's own base config.

* every config: the recipe it follows (docs/recipes.md, "Other heads"), the project's runtime additions (also where
  a whole mmdet/mmseg config is the base and they are set again), and a neck / heads whose ``in_channels`` are
  what the backbone declares, for the full-size model built on the meta device;
* every head: one training step of its full config at a CPU size (the backbone's widths and depths cut to the tiny
  test arch, the in_channels recomputed the way the config computes them: the real widths are checked above);
* every demo config: the Runner trains one iteration on a few synthetic images and evaluates them (COCO box AP,
  mIoU), as ``tools/train.py`` would.
"""

import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import convnext_dense  # noqa: F401  (registration)
import convnext_dense.datasets  # noqa: F401
from convnext_dense.apis import load_config
from convnext_dense.apis.preflight import declared_out_channels
from convnext_dense.models import weights as W
from convnext_dense.models.arch import stage_channels

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')
TINY = dict(depths=[1, 1, 1, 1], dims=[32, 64, 96, 128])  # GroupNorm(32) in DINO's ChannelMapper: widths of 32

# config: (arch, drop path, layer scale, the file its backbone starts from); docs/recipes.md, "Other heads"
RECIPES = {
    'detection/dino_convnext_t_in22k_12e.py': ('tiny', 0.0, 1.0, 'convnext_tiny_22k_1k_384.pth'),
    'detection/dino_convnext_s_in22k_12e.py': ('small', 0.0, 1.0, 'convnext_small_22k_1k_384.pth'),
    'detection/dino_convnext_b_in22k_12e.py': ('base', 0.0, 1.0, 'convnext_base_22k_1k_384.pth'),
    'detection/dino_convnext_l_in22k_12e.py': ('large', 0.0, 1.0, 'convnext_large_22k_1k_384.pth'),
    'detection/retinanet_convnext_t_1x.py': ('tiny', 0.4, 1.0, 'convnext_tiny_1k_224.pth'),
    'segmentation/deeplabv3plus_convnext_t_512_160k_ade20k.py': ('tiny', 0.4, 1.0, 'convnext_tiny_1k_224.pth'),
    'segmentation/mask2former_convnext_t_512_160k_ade20k.py': ('tiny', 0.4, 1.0, 'convnext_tiny_1k_224.pth'),
    'segmentation/mask2former_convnext_b_in22k_640_160k_ade20k.py': ('base', 0.4, 1.0, 'convnext_base_22k_1k_384.pth'),
}
# one training step per head: its T config
STEP = [
    'detection/dino_convnext_t_in22k_12e.py',
    'detection/retinanet_convnext_t_1x.py',
    'segmentation/deeplabv3plus_convnext_t_512_160k_ade20k.py',
    'segmentation/mask2former_convnext_t_512_160k_ade20k.py',
]
# demo config: the metric its evaluation must report
DEMOS = {
    'detection/demo/dino_convnext_demo.py': 'coco/bbox_mAP',
    'detection/demo/retinanet_convnext_demo.py': 'coco/bbox_mAP',
    'segmentation/demo/deeplabv3plus_convnext_demo.py': 'mIoU',
    'segmentation/demo/mask2former_convnext_demo.py': 'mIoU',
}
HEADS = ('dino_', 'retinanet_', 'mask2former_', 'deeplabv3plus_')


def scope(path: str) -> str:
    return 'mmdet' if path.startswith('detection/') else 'mmseg'


def load(path: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, path))


def registry(path: str):
    init_default_scope(scope(path))
    if scope(path) == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    return MODELS


def test_every_config_of_these_heads_is_listed():
    import glob

    found = {
        osp.relpath(p, CONFIGS)
        for task in ('detection', 'segmentation')
        for p in glob.glob(osp.join(CONFIGS, task, '**', '*.py'), recursive=True)
        if osp.basename(p).startswith(HEADS) and '_base_' not in p
    }
    assert found == set(RECIPES) | set(DEMOS)


# ------------------------------------------------------------------------------------------- runtime
@pytest.mark.parametrize('path', sorted(RECIPES) + sorted(DEMOS))
def test_the_projects_runtime_additions(path):
    """The DINO and Mask2Former bases repeat _base_/default_runtime.py's additions: they must stay the same."""
    cfg, task = load(path), path.split('/')[0]
    runtime = Config.fromfile(osp.join(CONFIGS, task, '_base_', 'default_runtime.py'))
    assert cfg.default_scope == scope(path)
    assert {'convnext_dense', 'convnext_dense.datasets'} <= set(cfg.custom_imports.imports)
    assert cfg.custom_imports.allow_failed_imports is False
    assert [h.type for h in cfg.custom_hooks] == [h.type for h in runtime.custom_hooks]
    assert cfg.default_hooks.checkpoint.type == 'SafeCheckpointHook'
    expected = ('Synthetic' if 'demo/' in path and task == 'segmentation' else 'Checked') + (
        'CocoDataset' if task == 'detection' else 'ADE20KDataset'
    )
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.type == expected, loader
        assert cfg[loader].dataset.data_root == cfg.data_root, loader
    if task == 'detection':
        assert cfg.val_evaluator.type == 'CocoMetric' and cfg.val_evaluator.metric == 'bbox'
        assert cfg.val_evaluator.outfile_prefix.startswith('{log_dir}/')
    else:
        assert cfg.val_evaluator.type == 'IoUMetric' and cfg.tta_model.type == 'SegTTAModel'


@pytest.mark.parametrize('path', sorted(RECIPES) + sorted(DEMOS))
def test_a_delta_not_a_copy(path):
    """Characters of code, as tests/test_configs/test_detection_configs.py counts them: a recipe is a few settings
    (Mask2Former-B's 640 data make it the longest), a demo rewrites widths and data."""
    from test_detection_configs import code_size

    assert code_size(osp.join(CONFIGS, path)) <= (2800 if '/demo/' in path else 1100)


# -------------------------------------------------------------------------------------------- recipes
@pytest.mark.parametrize('path', sorted(RECIPES))
def test_backbone_and_its_weights(path):
    arch, drop_path, layer_scale, checkpoint = RECIPES[path]
    backbone = load(path).model.backbone
    assert (backbone.type, backbone.arch, backbone.drop_path_rate) == ('ConvNeXt', arch, drop_path)
    assert backbone.layer_scale_init_value == layer_scale
    url = backbone.init_cfg.checkpoint
    assert dict(backbone.init_cfg) == dict(type='Pretrained', checkpoint=url) and url.endswith('/' + checkpoint)
    entry = W.released(url)
    assert entry is not None and entry.arch == arch, f'{url} is not a released {arch} file'
    assert entry.data == ('IN-22K -> IN-1K' if 'in22k' in path else 'IN-1K') and not entry.ema


@pytest.mark.parametrize('path', [p for p in sorted(RECIPES) if '/dino_' in p])
def test_dino_is_mmdets_with_detrex_backbone(path):
    cfg = load(path)
    model = cfg.model
    assert (model.type, model.num_queries, model.with_box_refine, model.as_two_stage) == ('DINO', 900, True, True)
    assert tuple(model.backbone.out_indices) == (1, 2, 3) and model.neck.num_outs == 4
    assert model.encoder.layer_cfg.self_attn_cfg.num_levels == 4 and model.dn_cfg.group_cfg.num_dn_queries == 100
    optim = cfg.optim_wrapper
    assert (optim.type, optim.optimizer.type, optim.optimizer.lr, optim.optimizer.weight_decay) == (
        'OptimWrapper',
        'AdamW',
        1e-4,
        1e-4,
    )
    assert optim.paramwise_cfg.custom_keys == dict(backbone=dict(lr_mult=0.1)) and optim.clip_grad.max_norm == 0.1
    assert cfg.train_cfg.max_epochs == 12 and [s.milestones for s in cfg.param_scheduler] == [[11]]
    assert cfg.train_dataloader.batch_size == 2  # x 8 GPUs


def test_retinanet_is_mmdets_1x_with_the_convnext_optimiser():
    cfg = load('detection/retinanet_convnext_t_1x.py')
    model = cfg.model
    assert (model.type, model.bbox_head.type) == ('RetinaNet', 'RetinaHead')
    assert tuple(model.backbone.out_indices) == (1, 2, 3)
    assert (model.neck.start_level, model.neck.add_extra_convs, model.neck.num_outs) == (0, 'on_input', 5)
    optim = cfg.optim_wrapper
    assert optim.optimizer == dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05)
    assert optim.paramwise_cfg == dict(decay_rate=0.95, decay_type='layer_wise', num_layers=6)
    assert cfg.train_cfg.max_epochs == 12 and cfg.param_scheduler[1].milestones == [8, 11]
    assert [t.type for t in cfg.train_pipeline] == [
        'LoadImageFromFile',
        'LoadAnnotations',
        'Resize',
        'RandomFlip',
        'PackDetInputs',
    ]
    assert cfg.tta_model.type == 'DetTTAModel'


def test_deeplabv3plus_rates_follow_the_output_stride():
    cfg = load('segmentation/deeplabv3plus_convnext_t_512_160k_ade20k.py')
    head = cfg.model.decode_head
    assert head.type == 'DepthwiseSeparableASPPHead' and head.in_index == 3
    assert tuple(head.dilations) == (1, 12 * 8 // 32, 24 * 8 // 32, 36 * 8 // 32)  # mmseg's at stride 8, here 32
    assert cfg.model.auxiliary_head.in_index == 2 and cfg.model.auxiliary_head.loss_decode.loss_weight == 0.4
    assert cfg.model.test_cfg.mode == 'whole' and cfg.model.pretrained is None
    # the ConvNeXt-T UperNet recipe's data and optimiser (tests/test_configs/test_segmentation_configs.py)
    upernet = load('segmentation/upernet_convnext_t_512_160k_ade20k.py')
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'train_dataloader', 'val_dataloader'):
        assert cfg[key] == upernet[key], key


@pytest.mark.parametrize('path', [p for p in sorted(RECIPES) if '/mask2former_' in p])
def test_mask2former_is_mmsegs(path):
    cfg = load(path)
    head = cfg.model.decode_head
    assert (head.type, head.num_queries, head.num_transformer_feat_level, head.num_classes) == (
        'Mask2FormerHead',
        100,
        3,
        150,
    )
    optim = cfg.optim_wrapper
    assert (optim.optimizer.type, optim.optimizer.lr, optim.optimizer.weight_decay) == ('AdamW', 1e-4, 0.05)
    assert optim.paramwise_cfg.custom_keys.backbone.lr_mult == 0.1 and optim.clip_grad.max_norm == 0.01
    assert cfg.train_cfg.max_iters == 160000 and cfg.param_scheduler[0].power == 0.9
    crop = 640 if '_640_' in path else 512
    assert tuple(cfg.model.data_preprocessor.size) == (crop, crop)
    crops = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomCrop']
    assert [tuple(t.crop_size) for t in crops] == [(crop, crop)]


# ----------------------------------------------------------------------------------------- wiring
def wiring(model_cfg) -> dict:
    """``{key: (in_channels, the backbone's channels there)}`` for every part that reads the backbone."""
    parts = {}
    neck, head, aux = model_cfg.get('neck'), model_cfg.get('decode_head'), model_cfg.get('auxiliary_head')
    if neck is not None:
        parts['neck'] = (list(neck.in_channels), None)
    if head is not None and head.type == 'Mask2FormerHead':
        parts['decode_head'] = (list(head.in_channels), None)
    elif head is not None:  # DeepLabV3+: the ASPP on stage in_index, the decoder's shortcut on stage 0
        parts['decode_head'] = (head.in_channels, head.in_index)
        parts['decode_head.c1'] = (head.c1_in_channels, 0)
    if aux is not None:
        parts['auxiliary_head'] = (aux.in_channels, aux.in_index)
    return parts


def backbone_on_meta(path, backbone_cfg):
    models = registry(path)
    with torch.device('meta'):
        return models.build({k: v for k, v in backbone_cfg.items() if k != 'init_cfg'})


@pytest.mark.parametrize('path', sorted(RECIPES) + sorted(DEMOS))
def test_the_heads_read_what_the_backbone_declares(path):
    cfg = load(path)
    outs = list(declared_out_channels(backbone_on_meta(path, cfg.model.backbone)))
    parts = wiring(cfg.model)
    assert parts
    for key, (have, index) in parts.items():
        assert have == (outs if index is None else outs[index]), key


@pytest.mark.parametrize(
    'path, key',
    [
        ('detection/dino_convnext_t_in22k_12e.py', 'model.neck'),
        ('segmentation/mask2former_convnext_t_512_160k_ade20k.py', 'model.decode_head'),
        ('segmentation/deeplabv3plus_convnext_t_512_160k_ade20k.py', 'model.decode_head'),
    ],
)
def test_preflight_names_a_backbone_of_another_size(path, key):
    from convnext_dense.apis.preflight import _check_backbone

    cfg = load(path)
    assert _check_backbone(cfg, scope(path)) == []
    cfg.model.backbone.arch = 'base'
    problems = _check_backbone(cfg, scope(path))  # DeepLabV3+: its auxiliary head as well
    assert problems and all(topic == 'model' and "ConvNeXt arch 'base' gives" in text for topic, text in problems)
    assert problems[0][1].startswith(f'{key}.in_channels=')


def test_size_variants_recompute_the_channels():
    t, b = load('detection/dino_convnext_t_in22k_12e.py'), load('detection/dino_convnext_b_in22k_12e.py')
    assert t.model.neck.in_channels == [192, 384, 768] and b.model.neck.in_channels == [256, 512, 1024]
    m2f = load('segmentation/mask2former_convnext_b_in22k_640_160k_ade20k.py')
    assert m2f.model.decode_head.in_channels == stage_channels('base') == [128, 256, 512, 1024]


# ------------------------------------------------------------------------------------------- one step
def cpu_sized(model_cfg):
    """The model with the tiny arch and its in_channels recomputed as the configs compute them; 64 x 64 crops."""
    model_cfg = copy.deepcopy(model_cfg)
    backbone = model_cfg.backbone
    backbone.update(arch=dict(TINY), init_cfg=None)
    widths = stage_channels(TINY, backbone.out_indices)
    if 'neck' in model_cfg:
        model_cfg.neck.in_channels = widths
    head = model_cfg.get('decode_head')
    if head is not None:
        model_cfg.data_preprocessor.size = (64, 64)  # the crop the batch is padded to: 64 x 64 here
    if head is not None and head.type == 'Mask2FormerHead':
        head.update(in_channels=widths, train_cfg=dict(head.train_cfg, num_points=1024))
    elif head is not None:
        head.update(in_channels=widths[head.in_index], c1_in_channels=widths[0])
        model_cfg.auxiliary_head.in_channels = widths[model_cfg.auxiliary_head.in_index]
    return model_cfg


def detection_batch(num_classes: int, shape):
    from mmdet.testing import demo_mm_inputs

    return demo_mm_inputs(batch_size=1, image_shapes=[shape], num_items=[2], num_classes=num_classes)


def segmentation_batch(num_classes: int, size=(64, 64)):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, *size), generator=g))
        samples.append(sample)
    return dict(inputs=[torch.rand(3, *size, generator=g) * 255 for _ in range(2)], data_samples=samples)


@pytest.mark.parametrize('path', STEP)
def test_one_training_step(path):
    torch.manual_seed(0)
    cfg = load(path)
    model = revert_sync_batchnorm(registry(path).build(cpu_sized(cfg.model)))
    model.init_weights()
    if scope(path) == 'mmdet':
        # DINO keeps 900 queries among the encoder's tokens: 192 x 256 gives 1020 of them at strides 8..64
        data = detection_batch(80, (3, 192, 256) if '/dino_' in path else (3, 64, 96))
    else:
        data = segmentation_batch(cfg.model.decode_head.num_classes)
    model.train()
    batch = model.data_preprocessor(data, True)
    losses = model(**batch, mode='loss')
    loss, log_vars = model.parse_losses(losses)
    assert torch.isfinite(loss) and loss > 0, log_vars
    loss.backward()
    stem = model.backbone.downsample_layers[0][0].weight
    assert stem.grad is not None and stem.grad.abs().sum() > 0, 'no gradient reaches the backbone'


# --------------------------------------------------------------------------------------------- demos
@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    from convnext_dense.datasets.synthetic import generate_ade, generate_coco

    root = tmp_path_factory.mktemp('demo_data')
    generate_coco(str(root / 'coco'), num_train=4, num_val=2, image_size=128, seed=0)
    generate_ade(str(root / 'ade'), num_train=4, num_val=2, image_size=72, seed=0)
    return dict(detection=str(root / 'coco') + '/', segmentation=str(root / 'ade'))


@pytest.mark.parametrize('path', sorted(DEMOS))
def test_demo_trains_one_iteration_and_evaluates(path, demo_data, tmp_path):
    task = path.split('/')[0]
    options = {
        'data_root': demo_data[task],
        'train_dataloader.batch_size': 2,
        'train_cfg.max_iters': 1,
        'train_cfg.val_interval': 2,  # no validation inside train(): runner.val() below returns the metrics
        'default_hooks.checkpoint.interval': 1,
    }
    for loader in ('train', 'val', 'test'):
        options.update({f'{loader}_dataloader.num_workers': 0, f'{loader}_dataloader.persistent_workers': False})
    if '/retinanet_' in path:
        options['model.test_cfg.score_thr'] = 0.0  # an untrained RetinaNet scores every anchor below 0.05
    cfg = load_config(osp.join(CONFIGS, path), options)
    cfg.work_dir, cfg.experiment_name = str(tmp_path / 'work'), osp.basename(path)[:-3]  # one visualizer each
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_1.pth'))
    assert torch.isfinite(torch.tensor(runner.message_hub.get_scalar('train/loss').current()))
    metrics = runner.val()
    assert DEMOS[path] in metrics and 0 <= metrics[DEMOS[path]] <= 100, metrics
