"""Every config, of every task, trains with the crash-safe checkpoint hook, the exact-resume random states
and the stop at a non-finite loss (convnext_dense/engine/hooks.py); a config that replaces custom_hooks
must keep them."""

import glob
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True) if '_base_' not in p)


def test_configs_are_found():
    assert len(CONFIGS) > 40


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, osp.join(ROOT, 'configs')))
def test_runtime_hooks(path):
    cfg = Config.fromfile(path)
    assert cfg.default_hooks.checkpoint.type == 'SafeCheckpointHook'
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert {'NonFiniteLossHook', 'RandomStateHook'} <= set(hooks), hooks
