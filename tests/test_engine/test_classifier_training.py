"""Pretrain -> detect: a 2-iteration Runner training writes trained + EMA weights that the dense backbone loads."""

import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import convnext_dense  # noqa: F401  (registration)
from convnext_dense.datasets import ImageFolderDataset
from convnext_dense.engine import UnswappedEMAHook
from convnext_dense.models import ConvNeXt, ConvNeXtClassifier, load_pretrained

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'classification', 'demo', 'convnext_demo.py')
TINY_ARCH = dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64])  # as conftest.tiny_backbone
HEAD_KEYS = ['head.bias', 'head.weight', 'norm.bias', 'norm.weight']


def _tiny_cfg(folder: str, work_dir: str) -> Config:
    """The demo config on the tiny folder: 8 images, batch 4, one epoch = 2 iterations."""
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = work_dir
    cfg.model.backbone.arch = dict(TINY_ARCH)
    cfg.model.num_classes = 2
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.update(batch_size=4, num_workers=0, persistent_workers=False)
        loader.dataset.update(data_root=folder)
        loader.dataset.transform.input_size = 32
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.val_evaluator = cfg.test_evaluator = dict(type='TopKAccuracy', topk=(1,))
    cfg.custom_hooks = [dict(type='UnswappedEMAHook', momentum=0.5, priority='ABOVE_NORMAL')]
    cfg.default_hooks.checkpoint = dict(type='SafeCheckpointHook', interval=1)
    cfg.default_hooks.logger.interval = 1
    return cfg


def _classifier(state_dict):
    model = ConvNeXtClassifier(dict(type='ConvNeXt', arch=dict(TINY_ARCH)), num_classes=2)
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


@pytest.fixture(scope='module')
def trained(tiny_folder, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('cls_work'))
    cfg = _tiny_cfg(tiny_folder, work_dir)
    Runner.from_cfg(copy.deepcopy(cfg)).train()
    path = osp.join(work_dir, 'epoch_1.pth')
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    ema = {k[len('module.') :]: v for k, v in ckpt['ema_state_dict'].items() if k.startswith('module.')}
    return dict(cfg=cfg, path=path, ckpt=ckpt, raw=ckpt['state_dict'], ema=ema)


def test_checkpoint_holds_trained_weights_and_ema(trained):
    ckpt, raw, ema = trained['ckpt'], trained['raw'], trained['ema']
    assert ckpt['meta']['iter'] == 2 and ckpt['meta']['dataset_meta']['classes'] == ('circle', 'square')
    assert int(ckpt['ema_state_dict']['steps']) == 2
    assert sorted(ema) == sorted(raw)
    key = 'backbone.stages.2.0.pwconv1.weight'
    assert not torch.allclose(raw[key], ema[key])  # momentum 0.5 over 2 steps: the EMA lags


def test_checkpoint_feeds_the_dense_backbone(trained):
    x = torch.randn(2, 3, 64, 96)
    for use_ema, weights in ((False, trained['raw']), (True, trained['ema'])):
        dense = ConvNeXt(arch=dict(TINY_ARCH), out_indices=(0, 1, 2, 3), out_norm=False)
        report = load_pretrained(dense, trained['path'], use_ema=use_ema)
        assert report['missing'] == [] and sorted(report['unexpected']) == HEAD_KEYS
        with torch.no_grad():
            torch.testing.assert_close(dense.eval()(x)[3], _classifier(weights).extract_feat(x), rtol=0, atol=0)


def test_detection_style_backbone_only_initialises_its_output_norms(trained):
    dense = ConvNeXt(arch=dict(TINY_ARCH), init_cfg=dict(type='Pretrained', checkpoint=trained['path']))
    dense.init_weights()  # what mmdet/mmseg do with the config's init_cfg
    report = load_pretrained(ConvNeXt(arch=dict(TINY_ARCH)), trained['path'])
    assert report['missing'] == [f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias')]
    key = 'stages.2.0.pwconv1.weight'
    assert torch.equal(dense.state_dict()[key], trained['raw']['backbone.' + key])


def test_test_run_evaluates_the_ema(trained, tmp_path):
    cfg = copy.deepcopy(trained['cfg'])
    cfg.work_dir, cfg.load_from = str(tmp_path), trained['path']
    metrics = Runner.from_cfg(cfg).test()
    ds = ImageFolderDataset(cfg.test_dataloader.dataset.data_root, 'val', transform=dict(input_size=32))
    model = _classifier(trained['ema'])
    batch = model.data_preprocessor(
        dict(
            inputs=[ds[i]['inputs'] for i in range(len(ds))],
            data_samples=[ds[i]['data_samples'] for i in range(len(ds))],
        )
    )
    with torch.no_grad():
        preds = model(**batch, mode='predict')
    expected = 100.0 * sum(int(p.pred_label) == int(p.gt_label) for p in preds) / len(preds)
    assert metrics == {'accuracy/top1': expected}


def test_ema_hook_saves_unswapped_and_restores_the_ema(tiny_backbone):
    from types import SimpleNamespace

    model = ConvNeXtClassifier(tiny_backbone, num_classes=3)
    hook = UnswappedEMAHook(momentum=0.5)
    runner = SimpleNamespace(model=model, iter=0, epoch=0, _resume=False)
    hook.before_run(runner)
    hook.after_train_iter(runner, 0)  # first step: the EMA copies the weights
    with torch.no_grad():
        model.head.fc.weight.add_(1.0)
    runner.iter = 1
    hook.after_train_iter(runner, 1)  # EMA = 0.5 * old + 0.5 * new
    trained_w = model.head.fc.weight.detach().clone()
    ckpt = dict(state_dict=copy.deepcopy(model.state_dict()))
    hook.before_save_checkpoint(runner, ckpt)
    torch.testing.assert_close(ckpt['state_dict']['head.fc.weight'], trained_w)
    torch.testing.assert_close(ckpt['ema_state_dict']['module.head.fc.weight'], trained_w - 0.5)

    fresh = ConvNeXtClassifier(tiny_backbone, num_classes=3)
    fresh.load_state_dict(ckpt['state_dict'])
    restored = UnswappedEMAHook(momentum=0.5)
    runner2 = SimpleNamespace(model=fresh, iter=0, epoch=0, _resume=False)
    restored.before_run(runner2)
    restored.after_load_checkpoint(runner2, ckpt)
    restored.before_test_epoch(runner2)  # evaluation runs on the EMA...
    torch.testing.assert_close(fresh.head.fc.weight, trained_w - 0.5)
    restored.after_test_epoch(runner2)  # ...and the trained weights come back afterwards
    torch.testing.assert_close(fresh.head.fc.weight, trained_w)
