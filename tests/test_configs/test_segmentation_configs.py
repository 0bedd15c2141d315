"""Every segmentation config: the released recipe, a build and one training step, inference and TTA.

Forward/backward runs on 2x3x64x64 inputs with the backbone's ``init_cfg`` removed (no weights
offline). ConvNeXt-L and -XL are built with one block per stage (their real widths, so the heads'
``in_channels`` are still checked against the backbone's outputs); their full depths are checked
against the arch table instead. AMP configs train here with a plain ``OptimWrapper``: mmengine's
``AmpOptimWrapper`` needs a GPU; the parameter groups are the same.
"""

import copy
import glob
import os
import os.path as osp
import subprocess
import sys
from argparse import Namespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from PIL import Image

import convnext_dense  # noqa: F401  (registers ConvNeXt)
import convnext_dense.datasets  # noqa: F401  (registers the checked ADE20K datasets)
from convnext_dense.models import ARCH_SETTINGS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'configs', 'segmentation')
# The UperNet configs (the other heads: tests/test_configs/test_other_heads.py).
CONFIGS = sorted(
    osp.relpath(p, CONFIG_DIR)
    for p in glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(p, CONFIG_DIR).split(os.sep) and osp.basename(p).startswith('upernet_')
)
DEMO = 'demo/upernet_convnext_demo.py'
DEMO_PATH = osp.join('configs', 'segmentation', DEMO)
SHRUNK = ('large', 'xlarge', 'v2-base', 'v2-large', 'v2-huge')

# docs/recipes.md, "Segmentation": arch, drop path, lr, AMP, crop, slide stride, decay num_layers
RECIPES = {
    'upernet_convnext_t_512_160k_ade20k.py': ('tiny', 0.4, 1e-4, True, 512, 341, 6),
    'upernet_convnext_s_512_160k_ade20k.py': ('small', 0.3, 1e-4, True, 512, 341, 12),
    'upernet_convnext_b_512_160k_ade20k.py': ('base', 0.4, 1e-4, True, 512, 341, 12),
    'upernet_convnext_b_in22k_640_160k_ade20k.py': ('base', 0.4, 1e-4, True, 640, 426, 12),
    'upernet_convnext_l_in22k_640_160k_ade20k.py': ('large', 0.4, 1e-4, False, 640, 426, 12),
    'upernet_convnext_xl_in22k_640_160k_ade20k.py': ('xlarge', 0.4, 8e-5, False, 640, 426, 12),
    # V2-T: no released row; follows V1-T (the config says so)
    'upernet_convnextv2_t_512_160k_ade20k.py': ('v2-tiny', 0.4, 1e-4, True, 512, 341, 6),
    # V2-B/L/H: the V1-B 512 recipe, L/H in fp32 (tests/test_configs/test_v2_dense_configs.py)
    'upernet_convnextv2_b_512_160k_ade20k.py': ('v2-base', 0.4, 1e-4, True, 512, 341, 12),
    'upernet_convnextv2_l_512_160k_ade20k.py': ('v2-large', 0.4, 1e-4, False, 512, 341, 12),
    'upernet_convnextv2_h_512_160k_ade20k.py': ('v2-huge', 0.4, 1e-4, False, 512, 341, 12),
}
SWIN = ['upernet_swin_t_512_160k_ade20k.py', 'upernet_swin_s_512_160k_ade20k.py']


def load(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def offline_model_cfg(cfg: Config) -> dict:
    """The model config without pretrained weights; L/XL with one block per stage (real widths)."""
    model = copy.deepcopy(cfg.model)
    model['backbone']['init_cfg'] = None
    arch = model['backbone'].get('arch')
    if isinstance(arch, str) and arch in SHRUNK:
        model['backbone']['arch'] = dict(depths=[1, 1, 1, 1], dims=list(ARCH_SETTINGS[arch]['dims']))
    return model


def build_model(cfg: Config):
    init_default_scope('mmseg')
    model = revert_sync_batchnorm(MODELS.build(offline_model_cfg(cfg)))  # SyncBN needs a process group
    model.init_weights()
    return model


def random_batch(num_classes: int, size=(64, 64), batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, 3, *size, generator=g)
    samples = []
    for _ in range(batch):
        label = torch.randint(0, num_classes, (1, *size), generator=g)
        label[:, :4, :4] = 255  # some ignored pixels, as after reduce_zero_label
        sample = SegDataSample(metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return inputs, samples


def test_all_configs_found():
    names = {osp.basename(c) for c in CONFIGS}
    assert set(RECIPES) | set(SWIN) | {'upernet_convnext_demo.py', 'upernet_swin_demo.py'} <= names


@pytest.mark.parametrize('name', CONFIGS)
def test_runtime_data_and_heads(name):
    cfg = load(name)
    assert 'convnext_dense' in cfg.custom_imports['imports'] and cfg.custom_imports['allow_failed_imports'] is False
    assert cfg.default_scope == 'mmseg'
    assert cfg.tta_model.type == 'SegTTAModel'
    flips = [t['prob'] for t in cfg.tta_pipeline[1]['transforms'][1]]
    scales = [t['scale'] for t in cfg.tta_pipeline[1]['transforms'][0]]
    assert flips == [0.0, 1.0] and len(scales) == 6
    base = cfg.test_pipeline[1]['scale']
    assert scales == [(int(base[0] * r), int(base[1] * r)) for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)]
    assert cfg.test_evaluator.type == 'IoUMetric' and cfg.test_evaluator.iou_metrics == ['mIoU']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == cfg.data_root  # one variable, shared by all loaders
    head, aux = cfg.model.decode_head, cfg.model.auxiliary_head
    assert (head.type, tuple(head.pool_scales), head.in_index) == ('UPerHead', (1, 2, 3, 6), [0, 1, 2, 3])
    assert (aux.type, aux.in_index, aux.loss_decode.loss_weight) == ('FCNHead', 2, 0.4)
    assert head.norm_cfg.type == aux.norm_cfg.type == 'SyncBN'
    assert head.num_classes == aux.num_classes
    assert cfg.model.test_cfg.mode == 'slide'


@pytest.mark.parametrize('name', CONFIGS)
def test_data_root_option_reaches_every_loader(name):
    """``--cfg-options data_root=PATH`` (tools/train.py, tools/test.py) moves all three dataloaders."""
    from convnext_dense.apis import load_config

    cfg = load_config(osp.join(CONFIG_DIR, name), {'data_root': '/datasets/elsewhere'})
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == '/datasets/elsewhere', loader


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_released_recipe(name):
    arch, drop_path, lr, amp, crop, stride, num_layers = RECIPES[name]
    cfg = load(name)
    backbone, optim = cfg.model.backbone, cfg.optim_wrapper
    assert (backbone.type, backbone.arch, backbone.drop_path_rate) == ('ConvNeXt', arch, drop_path)
    assert backbone.layer_scale_init_value == (None if arch.startswith('v2') else 1.0)  # V2: no layer scale
    assert backbone.init_cfg.type == 'Pretrained' and backbone.init_cfg.checkpoint.startswith(
        'https://dl.fbaipublicfiles.com/convnext/'
    )
    assert ('22k' in backbone.init_cfg.checkpoint) == ('in22k' in name)
    assert (optim.type == 'AmpOptimWrapper') == amp
    assert (optim.optimizer.type, optim.optimizer.lr, optim.optimizer.weight_decay) == ('AdamW', lr, 0.05)
    assert tuple(optim.optimizer.betas) == (0.9, 0.999)
    assert optim.constructor == 'LearningRateDecayOptimizerConstructor'
    assert dict(optim.paramwise_cfg) == dict(decay_rate=0.9, decay_type='stage_wise', num_layers=num_layers)
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end, warmup.start_factor) == ('LinearLR', 0, 1500, 1e-6)
    assert (poly.type, poly.power, poly.eta_min, poly.begin, poly.end) == ('PolyLR', 1.0, 0.0, 1500, 160000)
    assert cfg.train_cfg.max_iters == 160000 and cfg.train_dataloader.batch_size == 2
    assert cfg.model.decode_head.channels == 512 and cfg.model.decode_head.num_classes == 150
    assert tuple(cfg.crop_size) == (crop, crop) == tuple(cfg.model.data_preprocessor.size)
    assert tuple(cfg.model.test_cfg.crop_size) == (crop, crop)
    assert tuple(cfg.model.test_cfg.stride) == (stride, stride)
    assert cfg.train_pipeline[3]['crop_size'] == (crop, crop)
    assert cfg.train_dataloader.dataset.data_root == 'data/ade/ADEChallengeData2016'
    # the heads read the widths of the full-size arch (L/XL are built shrunk below)
    dims = list(ARCH_SETTINGS[arch]['dims'])
    assert list(cfg.model.decode_head.in_channels) == dims and cfg.model.auxiliary_head.in_channels == dims[2]


@pytest.mark.parametrize('name', SWIN)
def test_swin_shares_heads_data_and_schedule_with_convnext_t(name):
    swin, ref = load(name), load('upernet_convnext_t_512_160k_ade20k.py')
    for key in ('decode_head', 'auxiliary_head', 'test_cfg', 'data_preprocessor'):
        assert swin.model[key] == ref.model[key], key
    for key in (
        'train_dataloader',
        'val_dataloader',
        'test_dataloader',
        'tta_pipeline',
        'param_scheduler',
        'train_cfg',
        'test_evaluator',
    ):
        assert swin[key] == ref[key], key
    assert swin.model.backbone.type == 'SwinTransformer'
    # Swin's own official optimiser (mmseg's Swin configs): lr 6e-5, wd 0.01, no layer decay
    assert (swin.optim_wrapper.optimizer.lr, swin.optim_wrapper.optimizer.weight_decay) == (6e-5, 0.01)
    assert 'constructor' not in swin.optim_wrapper


@pytest.mark.parametrize('name', CONFIGS)
def test_builds_and_trains_one_step(name):
    torch.manual_seed(0)
    cfg = load(name)
    model = build_model(cfg)
    num_classes = cfg.model.decode_head.num_classes
    inputs, samples = random_batch(num_classes)

    # the heads read what the backbone emits
    feats = model.extract_feat(inputs)
    widths = [f.shape[1] for f in feats]
    assert widths == list(model.decode_head.in_channels)
    assert widths[model.auxiliary_head.in_index] == model.auxiliary_head.in_channels
    if hasattr(model.backbone, 'out_channels'):
        assert list(model.backbone.out_channels) == widths
    assert [64 // f.shape[-1] for f in feats] == [4, 8, 16, 32]

    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if optim_cfg.type == 'AmpOptimWrapper':
        optim_cfg.type = 'OptimWrapper'
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    model.train()
    losses = model.loss(inputs, samples)
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(losses)
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(loss)
    before = model.backbone.state_dict()
    before = {k: v.clone() for k, v in before.items()}
    optim_wrapper.update_params(loss)
    stem = next(p for n, p in model.backbone.named_parameters() if p.dim() == 4)
    assert stem.grad is None or torch.isfinite(stem.grad).all()
    changed = [k for k, v in model.backbone.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, 'one optimiser step must change the backbone'

    model.eval()
    with torch.no_grad():
        pred = model.predict(inputs[:1], samples[:1])[0]
    assert tuple(pred.pred_sem_seg.shape) == (64, 64)
    assert int(pred.pred_sem_seg.data.max()) < num_classes


@pytest.mark.parametrize(
    'name, num_layers', [('upernet_convnext_t_512_160k_ade20k.py', 6), ('upernet_convnext_s_512_160k_ade20k.py', 12)]
)
def test_stage_wise_decay_groups(name, num_layers):
    """docs/recipes.md: group id -> lr scale 0.9 ** (num_layers + 2 - id - 1); downsample layers -> 0,
    stage i -> i + 1, everything else -> num_layers + 1; 1-D parameters and biases get no weight decay."""
    cfg = load(name)
    model = build_model(cfg)
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    optim_cfg.type = 'OptimWrapper'
    optimizer = build_optim_wrapper(model, optim_cfg).optimizer
    group_of = {}
    for group in optimizer.param_groups:
        for p in group['params']:
            assert id(p) not in group_of, 'a parameter in two groups'
            group_of[id(p)] = group

    def expected(param_name, param):
        if param_name.startswith('backbone.downsample_layers.'):
            layer_id = 0
        elif param_name.startswith('backbone.stages.'):
            layer_id = int(param_name.split('.')[2]) + 1
        else:
            layer_id = num_layers + 1
        no_decay = param.dim() == 1 or param_name.endswith('.bias')
        return 1e-4 * 0.9 ** (num_layers + 2 - layer_id - 1), 0.0 if no_decay else 0.05

    named = list(model.named_parameters())
    assert len(group_of) == len(named)
    for param_name, param in named:
        lr, wd = expected(param_name, param)
        group = group_of[id(param)]
        assert group['lr'] == pytest.approx(lr), param_name
        assert group['weight_decay'] == wd, param_name
    # spot checks with the numbers written out (T: num_layers 6)
    lrs = {n: group_of[id(p)]['lr'] / 1e-4 for n, p in named}
    assert lrs['backbone.downsample_layers.0.0.weight'] == pytest.approx(0.9 ** (num_layers + 1))  # stem
    assert lrs['backbone.stages.1.0.pwconv1.weight'] == pytest.approx(0.9 ** (num_layers - 1))
    assert lrs['backbone.stages.3.0.pwconv1.weight'] == pytest.approx(0.9 ** (num_layers - 3))
    assert lrs['decode_head.conv_seg.weight'] == pytest.approx(1.0)
    assert group_of[id(dict(named)['backbone.stages.2.0.gamma'])]['weight_decay'] == 0.0


def demo_model():
    cfg = load(DEMO)
    return cfg, build_model(cfg).eval()


def test_slide_inference_uses_overlapping_windows():
    """The demo's 128x128 windows with stride 85 on a 150x230 input: 2 x 3 windows, averaged."""
    cfg, model = demo_model()
    windows = []
    encode_decode = model.encode_decode

    def spy(crop, metas):
        out = encode_decode(crop, metas)
        windows.append((tuple(crop.shape[2:]), out))
        return out

    model.encode_decode = spy
    inputs = torch.randn(1, 3, 150, 230, generator=torch.Generator().manual_seed(0))
    metas = [dict(img_shape=(150, 230), ori_shape=(150, 230), pad_shape=(150, 230))]
    with torch.no_grad():
        logits = model.inference(inputs, metas)
    assert cfg.model.test_cfg.mode == 'slide'
    assert len(windows) == 6 and all(shape == (128, 128) for shape, _ in windows)
    assert logits.shape == (1, cfg.model.decode_head.num_classes, 150, 230)
    # the top-left pixel is in the first window only, the bottom-right one in the last only
    torch.testing.assert_close(logits[..., 0, 0], windows[0][1][..., 0, 0])
    torch.testing.assert_close(logits[..., -1, -1], windows[-1][1][..., -1, -1])
    # a pixel in two windows gets their mean: row 0, column 100 lies in windows x=0..128 and 85..213
    torch.testing.assert_close(logits[..., 0, 100], (windows[0][1][..., 0, 100] + windows[1][1][..., 0, 15]) / 2)


@pytest.fixture
def tiny_data(synthetic_set):
    return synthetic_set('ade', num_train=4, num_val=2, image_size=72, seed=0)


def test_tta_model_merges_scales_and_flips(tiny_data):
    from mmengine.dataset import pseudo_collate
    from mmseg.registry import DATASETS

    cfg, model = demo_model()
    init_default_scope('mmseg')
    tta = MODELS.build(dict(cfg.tta_model, module=model)).eval()
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, data_root=tiny_data, pipeline=cfg.tta_pipeline))
    item = dataset[0]
    assert len(item['inputs']) == 12  # 6 scales x 2 flips
    sizes = [tuple(x.shape[1:]) for x in item['inputs']]
    assert len(set(sizes)) == 6 and sizes[0][0] < sizes[-1][0]
    assert [s.flip for s in item['data_samples']] == [False, True] * 6
    with torch.no_grad():
        merged = tta.test_step(pseudo_collate([item]))[0]
        views = [
            model.test_step(dict(inputs=[x], data_samples=[s]))[0] for x, s in zip(item['inputs'], item['data_samples'])
        ]
    ori_shape = item['data_samples'][0].ori_shape
    assert tuple(merged.pred_sem_seg.shape) == tuple(ori_shape)
    # the merge is the mean of the per-view softmax, each view back at the original size and orientation
    mean = torch.stack([v.seg_logits.data.softmax(0) for v in views]).mean(0)
    assert torch.equal(merged.pred_sem_seg.data[0], mean.argmax(0))


def run_tool(*args):
    """A tool as a user runs it: a fresh process (mmengine's visualizer is a per-process singleton)."""
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_demo_config_trains_tests_and_draws(tiny_data, tmp_path):
    """tools/train.py, then tools/test.py with --out (PNG masks) and --show-dir (colour overlays)."""
    options = [f'data_root={tiny_data}']
    options += [
        f'{k}_dataloader.{o}' for k in ('train', 'val', 'test') for o in ('num_workers=0', 'persistent_workers=False')
    ]
    work_dir = str(tmp_path / 'work')
    run_tool(
        'tools/train.py',
        DEMO_PATH,
        '--work-dir',
        work_dir,
        '--cfg-options',
        *options,
        'train_dataloader.batch_size=2',
        'train_cfg.max_iters=2',
        'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
    )
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(checkpoint)

    out_dir, show_dir = str(tmp_path / 'masks'), str(tmp_path / 'vis')
    log = run_tool(
        'tools/test.py',
        DEMO_PATH,
        checkpoint,
        '--work-dir',
        work_dir,
        '--out',
        out_dir,
        '--show-dir',
        show_dir,
        '--cfg-options',
        *options,
    )
    assert 'mIoU' in log and 'per class results' in log
    masks = sorted(os.listdir(out_dir))
    assert masks == ['ADE_val_00000001.png', 'ADE_val_00000002.png']
    for mask in masks:
        with Image.open(osp.join(out_dir, mask)) as png:
            assert png.mode == 'L'
            assert set(np.unique(np.asarray(png)).tolist()) <= set(range(1, 6))  # class k saved as k + 1 (ADE)
    drawn = sorted(glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True))
    assert len(drawn) == 2, drawn  # one drawing (ground truth | prediction, colour overlays) per image
    with (
        Image.open(drawn[0]) as img,
        Image.open(osp.join(tiny_data, 'images', 'validation', 'ADE_val_00000001.jpg')) as src,
    ):
        assert img.mode == 'RGB' and img.size == (2 * src.size[0], src.size[1])

    # --tta: the model wrapped in SegTTAModel, the test set read with tta_pipeline (the TTA model itself
    # runs in test_tta_model_merges_scales_and_flips; a third process here would cost ~15 s)
    from convnext_dense.apis import apply_test_args, load_config

    args = Namespace(
        config=DEMO_PATH, checkpoint=checkpoint, launcher='none', work_dir=work_dir, tta=True, show_dir=None, out=None
    )
    cfg = apply_test_args(load_config(osp.join(REPO, DEMO_PATH)), args)
    assert cfg.model.type == 'SegTTAModel' and cfg.model.module.backbone.type == 'ConvNeXt'
    assert cfg.test_dataloader.dataset.pipeline == cfg.tta_pipeline
