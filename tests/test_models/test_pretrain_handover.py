"""Hand-over audit: a classification checkpoint reaches the detector's backbone intact, trained or EMA weights.

Nothing is trained. The classifier of the classification demo config gets every tensor randomised, an
EMA copy with other random values, and is saved the way the Runner's CheckpointHook saves it
(``weights_to_cpu(get_state_dict(model))`` under ``state_dict``, then the EMA hook's
``before_save_checkpoint`` adds ``ema_state_dict``, then mmengine's ``save_checkpoint``). The detection
demo config that starts from the classification demo is built with its ``init_cfg`` pointed at that
file, with ``use_ema`` False and True, and initialised as mmdet initialises a detector.
"""

import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import ExponentialMovingAverage
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import get_state_dict, save_checkpoint, weights_to_cpu

import convnext_dense  # noqa: F401  (registration)
from convnext_dense.engine import UnswappedEMAHook

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS_DEMO = osp.join(ROOT, 'configs', 'classification', 'demo', 'convnext_demo.py')
DET_DEMO = osp.join(ROOT, 'configs', 'detection', 'demo', 'cascade_convnext_demo_pretrained.py')
OUT_NORMS = [f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias')]


def _randomise(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in module.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    cfg = Config.fromfile(CLS_DEMO)
    model_cfg = dict(cfg.model, data_preprocessor=cfg.data_preprocessor)
    classifier = ROOT_MODELS.build(model_cfg)
    _randomise(classifier, seed=0)
    hook = UnswappedEMAHook(momentum=0.01)
    hook.ema_model = ExponentialMovingAverage(classifier, momentum=0.01)
    _randomise(hook.ema_model.module, seed=1)  # an EMA that differs from the trained weights everywhere
    ckpt = dict(meta=dict(epoch=24), state_dict=weights_to_cpu(get_state_dict(classifier)))
    hook.before_save_checkpoint(None, ckpt)
    path = str(tmp_path_factory.mktemp('handover') / 'epoch_24.pth')
    save_checkpoint(ckpt, path)
    raw = {k: v.clone() for k, v in classifier.state_dict().items()}
    ema = {k[len('module.') :]: v.clone() for k, v in hook.ema_model.state_dict().items() if k.startswith('module.')}
    return dict(path=path, raw=raw, ema=ema, saved=torch.load(path, map_location='cpu', weights_only=False))


def test_saved_file_is_what_the_checkpoint_hook_writes(checkpoint):
    saved = checkpoint['saved']
    assert set(saved) >= {'meta', 'state_dict', 'ema_state_dict'}
    assert sorted(saved['state_dict']) == sorted(checkpoint['raw'])
    assert 'steps' in saved['ema_state_dict']
    key = 'backbone.stages.2.1.pwconv1.weight'
    assert not torch.equal(checkpoint['raw'][key], checkpoint['ema'][key])


@pytest.mark.parametrize('use_ema', [False, True])
def test_every_backbone_tensor_reaches_the_detector(checkpoint, use_ema):
    init_default_scope('mmdet')
    from mmdet.registry import MODELS

    cfg = Config.fromfile(DET_DEMO)
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    cfg.model.backbone.init_cfg.update(checkpoint=checkpoint['path'], use_ema=use_ema)
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    source = checkpoint['ema' if use_ema else 'raw']
    backbone = detector.backbone.state_dict()
    body = [k for k in backbone if k not in OUT_NORMS]
    expected_body = sorted(k[len('backbone.') :] for k in source if k.startswith('backbone.'))
    assert sorted(body) == expected_body  # the classifier's backbone has exactly the detector's body keys
    for key in body:
        assert torch.equal(backbone[key], source['backbone.' + key]), key
    # The output norms are new for dense prediction: identity LayerNorms, not the classifier's final norm.
    for i in range(4):
        assert torch.equal(backbone[f'norm{i}.weight'], torch.ones_like(backbone[f'norm{i}.weight']))
        assert torch.equal(backbone[f'norm{i}.bias'], torch.zeros_like(backbone[f'norm{i}.bias']))
    assert not torch.equal(backbone['norm3.weight'], source['head.norm.weight'])
