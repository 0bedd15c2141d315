"""tools/train.py and tools/test.py options, as applied to a config by convnext_dense.apis."""

from types import SimpleNamespace

import pytest
from mmengine.config import Config

from convnext_dense.apis import apply_test_args, apply_train_args, default_work_dir, load_config


def _train_args(**kw):
    return SimpleNamespace(
        **{
            **dict(
                config='configs/x/my_model.py',
                work_dir=None,
                amp=False,
                resume=None,
                seed=None,
                deterministic=False,
                launcher='none',
            ),
            **kw,
        }
    )


def _cfg(scope='mmdet', tta=True):
    cfg = Config(
        dict(
            default_scope=scope,
            model=dict(type='M'),
            optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4)),
            test_dataloader=dict(dataset=dict(pipeline=['test'])),
            test_evaluator=dict(type='CocoMetric'),
            default_hooks=dict(visualization=dict(type='DetVisualizationHook', draw=False)),
            visualizer=dict(type='DetLocalVisualizer'),
        )
    )
    if tta:
        cfg.merge_from_dict(dict(tta_model=dict(type='DetTTAModel'), tta_pipeline=['tta']))
    return cfg


def test_missing_config_names_the_file_and_where_configs_are():
    with pytest.raises(FileNotFoundError, match=r"config 'nope.py' does not exist.*configs/\{detection"):
        load_config('nope.py')


def test_work_dir_defaults_to_the_config_name():
    cfg = apply_train_args(_cfg(), _train_args())
    assert cfg.work_dir == default_work_dir('configs/x/my_model.py') == './work_dirs/my_model'


def test_resume_alone_means_latest_in_work_dir_and_a_path_must_exist(tmp_path):
    cfg = apply_train_args(_cfg(), _train_args(resume='auto'))
    assert cfg.resume is True and cfg.load_from is None
    with pytest.raises(FileNotFoundError, match='no such checkpoint'):
        apply_train_args(_cfg(), _train_args(resume=str(tmp_path / 'epoch_9.pth')))
    ckpt = tmp_path / 'epoch_3.pth'
    ckpt.write_bytes(b'x')
    cfg = apply_train_args(_cfg(), _train_args(resume=str(ckpt)))
    assert cfg.resume is True and cfg.load_from == str(ckpt)


def test_seed_sets_randomness():
    assert apply_train_args(_cfg(), _train_args(seed=7)).randomness == dict(seed=7, deterministic=False)


def test_amp_without_a_gpu_says_what_to_do(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match='--amp needs a CUDA GPU'):
        apply_train_args(_cfg(), _train_args(amp=True))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = apply_train_args(_cfg(), _train_args(amp=True))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.loss_scale == 'dynamic'


def _test_args(tmp_path, **kw):
    ckpt = tmp_path / 'epoch_1.pth'
    ckpt.write_bytes(b'x')
    return SimpleNamespace(
        **{
            **dict(
                config='configs/x/m.py',
                checkpoint=str(ckpt),
                work_dir=None,
                out=None,
                show_dir=None,
                tta=False,
                launcher='none',
            ),
            **kw,
        }
    )


def test_tta_wraps_the_model_and_swaps_the_pipeline(tmp_path):
    cfg = apply_test_args(_cfg(), _test_args(tmp_path, tta=True))
    assert cfg.model.type == 'DetTTAModel' and cfg.model.module.type == 'M'
    assert cfg.test_dataloader.dataset.pipeline == ['tta']
    with pytest.raises(ValueError, match='defines no tta_model'):
        apply_test_args(_cfg(tta=False), _test_args(tmp_path, tta=True))


def test_show_dir_and_out_per_scope(tmp_path):
    det = apply_test_args(_cfg('mmdet'), _test_args(tmp_path, show_dir='vis', out=str(tmp_path / 'r.pkl')))
    assert det.default_hooks.visualization.draw is True and det.default_hooks.visualization.test_out_dir.endswith('vis')
    assert det.test_evaluator[-1] == dict(type='DumpDetResults', out_file_path=str(tmp_path / 'r.pkl'))
    seg = apply_test_args(_cfg('mmseg'), _test_args(tmp_path, show_dir='vis', out=str(tmp_path / 'masks')))
    assert seg.visualizer.save_dir.endswith('vis') and seg.default_hooks.visualization.draw is True
    assert seg.test_evaluator.output_dir == str(tmp_path / 'masks')
    assert not seg.test_evaluator.get('format_only', False)  # evaluates as well as writing the masks


def test_missing_checkpoint_for_testing(tmp_path):
    args = _test_args(tmp_path)
    args.checkpoint = str(tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError, match="missing.pth' does not exist"):
        apply_test_args(_cfg(), args)


def test_applying_arguments_creates_no_process_group(monkeypatch):
    """The distributed set-up is the tool's own explicit step (engine.setup_distributed), not a side effect."""
    import torch.distributed as dist

    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    cfg = apply_train_args(_cfg(), _train_args(launcher='pytorch'))  # no RANK/WORLD_SIZE: set-up would fail
    assert cfg.launcher == 'pytorch' and not dist.is_initialized()
    assert 'model_wrapper_cfg' not in cfg
