"""The downstream demos that start from the classification demo's checkpoint, and the demo chain's ablation
(``projects/demo_chain/demo_chain.py``).

* ``configs/detection/demo/cascade_convnext_demo_pretrained.py`` and
  ``configs/segmentation/demo/upernet_convnext_demo_pretrained.py`` take every backbone tensor of a
  classification-demo checkpoint (the segmentation one has the classifier's 1-1-3-1 backbone for that);
* their fine-tuning recipe: layer-wise lr decay 0.7 over the backbone, numbered without gaps
  (num_layers 4), the new neck and heads at the demo's lr;
* the chain's two starts of a task are the same config but for ``model.backbone.init_cfg``.

Nothing is trained: the checkpoint is a randomised classifier saved as mmengine saves one.
"""

import copy
import importlib.util
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import save_checkpoint

import convnext_dense  # noqa: F401  (registration)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS_DEMO = osp.join(ROOT, 'configs', 'classification', 'demo', 'convnext_demo.py')
DEMOS = {
    'detection': ('mmdet', osp.join(ROOT, 'configs', 'detection', 'demo', 'cascade_convnext_demo_pretrained.py'), 1e-3),
    'segmentation': (
        'mmseg',
        osp.join(ROOT, 'configs', 'segmentation', 'demo', 'upernet_convnext_demo_pretrained.py'),
        2e-3,
    ),
}
OUT_NORMS = [f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias')]


def build(task, init_cfg):
    scope, path, _ = DEMOS[task]
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry').MODELS
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = init_cfg
    return cfg, registry.build(cfg.model)


@pytest.fixture(scope='module')
def classifier_checkpoint(tmp_path_factory):
    cfg = Config.fromfile(CLS_DEMO)
    classifier = ROOT_MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for t in classifier.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g))
    path = str(tmp_path_factory.mktemp('cls') / 'epoch_24.pth')
    save_checkpoint(dict(meta=dict(epoch=24), state_dict=classifier.state_dict()), path)
    return path, {k: v.clone() for k, v in classifier.state_dict().items()}


@pytest.mark.parametrize('task', sorted(DEMOS))
def test_config_points_at_the_classification_demo_checkpoint(task):
    cfg = Config.fromfile(DEMOS[task][1])
    assert dict(cfg.model.backbone.init_cfg) == dict(type='Pretrained', checkpoint='work_dirs/demo_cls/epoch_24.pth')
    cls = Config.fromfile(CLS_DEMO)
    assert dict(cfg.model.backbone.arch) == dict(cls.model.backbone.arch)  # 1-1-3-1, widths 32..256


@pytest.mark.parametrize('task', sorted(DEMOS))
def test_every_classifier_backbone_tensor_is_loaded(task, classifier_checkpoint):
    path, source = classifier_checkpoint
    _, model = build(task, dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    backbone = model.backbone.state_dict()
    body = [k for k in backbone if k not in OUT_NORMS]
    assert sorted(body) == sorted(k[len('backbone.') :] for k in source if k.startswith('backbone.'))
    for key in body:
        assert torch.equal(backbone[key], source['backbone.' + key]), key


@pytest.mark.parametrize('task', sorted(DEMOS))
def test_layer_wise_decay_over_the_backbone(task):
    """lr x 0.7 ** (num_layers + 1 - id), num_layers 4: stem 0, stage 0 -> 1, stage i (and the downsampling
    layer before it) -> i + 1, output norms, neck and heads -> 5 (the demo's lr)."""
    cfg, model = build(task, None)
    lr = DEMOS[task][2]
    assert cfg.optim_wrapper.optimizer.lr == lr
    assert dict(cfg.optim_wrapper.paramwise_cfg) == dict(decay_rate=0.7, decay_type='layer_wise', num_layers=4)
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    optim_cfg.type = 'OptimWrapper'
    groups = build_optim_wrapper(model, optim_cfg).optimizer.param_groups
    lookup = {name: group for group in groups for name in group['param_names']}
    assert len(lookup) == sum(1 for p in model.parameters() if p.requires_grad)

    def scale(name):
        return lookup[name]['lr'] / lr

    assert scale('backbone.downsample_layers.0.0.weight') == pytest.approx(0.7**5)  # stem
    assert scale('backbone.stages.0.0.pwconv1.weight') == pytest.approx(0.7**4)
    assert scale('backbone.downsample_layers.1.1.weight') == pytest.approx(0.7**3)
    assert scale('backbone.stages.1.0.dwconv.weight') == pytest.approx(0.7**3)
    for block in range(3):
        assert scale(f'backbone.stages.2.{block}.pwconv2.weight') == pytest.approx(0.7**2)
    assert scale('backbone.downsample_layers.3.1.weight') == pytest.approx(0.7)
    assert scale('backbone.stages.3.0.pwconv1.weight') == pytest.approx(0.7)
    assert scale('backbone.norm3.weight') == pytest.approx(1.0)
    heads = [n for n in lookup if not n.startswith('backbone.')]
    assert heads and all(scale(n) == pytest.approx(1.0) for n in heads)
    assert lookup['backbone.stages.2.0.gamma']['weight_decay'] == 0.0  # 1-D: no weight decay
    assert lookup['backbone.stages.2.0.pwconv1.weight']['weight_decay'] == 0.05


def load_chain():
    spec = importlib.util.spec_from_file_location(
        'demo_chain', osp.join(ROOT, 'projects', 'demo_chain', 'demo_chain.py')
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chain_starts_differ_only_in_the_backbone_init(tmp_path, monkeypatch):
    """The chain's pretrained and random runs of a task: one config, the random one with init_cfg None."""
    chain = load_chain()
    assert (chain.DET_CFG, chain.SEG_CFG) == tuple(
        osp.relpath(DEMOS[t][1], ROOT) for t in ('detection', 'segmentation')
    )
    monkeypatch.setattr(chain, 'run_train', lambda config, work_dir, seed=None: 1.0)
    fake = [{'step': 50, 'coco/bbox_mAP': 0.1, 'coco/segm_mAP': 0.1, 'mIoU': 10.0}]
    monkeypatch.setattr(chain, 'metric_records', lambda work_dir, keys: fake)
    data = dict(coco=str(tmp_path / 'coco'), ade=str(tmp_path / 'ade'))
    budget = chain.BUDGETS['short']
    checkpoint = str(tmp_path / 'pretrain' / 'epoch_24.pth')
    for run, prefix in ((chain.detect, 'det'), (chain.segment, 'seg')):
        out = str(tmp_path / 'out')
        run(out, data, budget, checkpoint, 0)
        run(out, data, budget, None, 0)
        pretrained = Config.fromfile(osp.join(out, f'{prefix}_pretrained_seed0', 'config.py')).to_dict()
        random = Config.fromfile(osp.join(out, f'{prefix}_random_seed0', 'config.py')).to_dict()
        assert pretrained['model']['backbone'].pop('init_cfg') == dict(type='Pretrained', checkpoint=checkpoint)
        assert random['model']['backbone'].pop('init_cfg') is None
        for cfg in (pretrained, random):
            cfg.pop('work_dir')
        assert pretrained == random, prefix
        assert pretrained['optim_wrapper']['paramwise_cfg']['decay_type'] == 'layer_wise'


def test_chain_reuses_a_finished_run_of_the_same_config(tmp_path, monkeypatch):
    chain = load_chain()
    calls = []

    def run_train(config, work_dir, seed=None):
        calls.append(work_dir)
        with open(config, 'a') as f:  # as mmengine's runner does: it dumps its config over the one it was given
            f.write("launcher = 'none'\nrandomness = dict(deterministic=False, seed=0)\n")
        return 12.0

    monkeypatch.setattr(chain, 'run_train', run_train)
    monkeypatch.setattr(chain, 'metric_records', lambda work_dir, keys: [{'step': 100, 'mIoU': 50.0}])
    data = dict(ade=str(tmp_path / 'ade'))
    out = str(tmp_path / 'out')
    first = chain.segment(out, data, chain.BUDGETS['short'], None, 0)
    again = chain.segment(out, data, chain.BUDGETS['short'], None, 0)
    assert len(calls) == 1 and again['seconds'] == first['seconds'] == 12.0 and again['miou'] == 50.0
    chain.segment(out, data, chain.BUDGETS['full'], None, 0)  # another schedule: trained again
    assert len(calls) == 2


def test_small_data_recipes_differ_from_the_papers_in_their_one_edit(tmp_path, monkeypatch):
    """projects/demo_chain/small_data.py: each recipe's run config is the 'paper' run's with only its own keys
    changed (a row of its table is one ablation), for both tasks."""
    monkeypatch.syspath_prepend(osp.join(ROOT, 'projects', 'demo_chain'))
    path = osp.join(ROOT, 'projects', 'demo_chain', 'small_data.py')
    spec = importlib.util.spec_from_file_location('small_data', path)
    small = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(small)
    chain = sys.modules['demo_chain']  # the module small_data imported: its runs are the chain's functions
    monkeypatch.setattr(chain, 'run_train', lambda config, work_dir, seed=None: 1.0)
    fake = [{'step': 50, 'coco/bbox_mAP': 0.1, 'coco/segm_mAP': 0.1, 'mIoU': 10.0}]
    monkeypatch.setattr(chain, 'metric_records', lambda work_dir, keys: fake)
    data = dict(coco=str(tmp_path / 'coco'), ade=str(tmp_path / 'ade'))
    checkpoint = str(tmp_path / 'pretrain' / 'epoch_24.pth')
    pretrained = dict(type='Pretrained', checkpoint=checkpoint)
    expected = {  # recipe: (its backbone init_cfg, the other keys it changes)
        'paper': (pretrained, {}),
        'random_init': (None, {}),
        'frozen_stem_stage0': (pretrained, {('model', 'backbone', 'frozen_stages'): 1}),
        'frozen_3_stages': (pretrained, {('model', 'backbone', 'frozen_stages'): 3}),
        'no_layer_decay': (pretrained, {('optim_wrapper', 'paramwise_cfg', 'decay_rate'): 1.0}),
        'drop_path_0.3': (pretrained, {('model', 'backbone', 'drop_path_rate'): 0.3}),
    }
    assert set(expected) == set(small.RECIPES)

    def flat(tree, prefix=()):
        if isinstance(tree, dict):
            return {k: v for key, sub in tree.items() for k, v in flat(sub, prefix + (key,)).items()}
        return {prefix: tree}

    for run, prefix in ((chain.detect, 'det'), (chain.segment, 'seg')):
        out = str(tmp_path / 'out')
        configs = {}
        for name, (_, edit) in small.RECIPES.items():
            assert run(out, data, chain.BUDGETS['short'], checkpoint, 0, recipe=(name, edit))['recipe'] == name
            cfg = Config.fromfile(osp.join(out, f'{prefix}_{name}_seed0', 'config.py')).to_dict()
            cfg.pop('work_dir')
            assert cfg['model']['backbone'].pop('init_cfg') == expected[name][0], (prefix, name)
            configs[name] = flat(cfg)
        paper = configs['paper']  # a key the demo config leaves at the backbone's default is absent there
        for name, cfg in configs.items():
            assert set(paper) <= set(cfg), (prefix, name)
            assert {k: v for k, v in cfg.items() if paper.get(k, '<absent>') != v} == expected[name][1], (prefix, name)
