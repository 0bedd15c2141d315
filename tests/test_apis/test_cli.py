"""run_cli: a UserError is one `error: ...` line, exit code 2; anything else keeps its traceback; every tool alike."""

import os.path as osp
import runpy
import sys

import pytest
import torch

import convnext_dense  # noqa: F401  (registers everything)
from convnext_dense.apis.cli import run_cli, user_error_message
from convnext_dense.errors import ConfigError, DataError, MissingFileError, UserError
from convnext_dense.models import ConvNeXt

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_user_error_prints_one_line_and_exit_code_2(capsys):
    def main():
        raise MissingFileError("config 'x.py' does not exist")

    assert run_cli(main) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "error: config 'x.py' does not exist"
    assert 'Traceback' not in err


def test_torch_error_raised_inside_the_package_keeps_its_traceback():
    """The decision is the type, not where it was raised: a torch RuntimeError from convnext.py is a bug report."""
    net = ConvNeXt(arch=dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64])).eval()

    def main():
        net(torch.rand(1, 5, 32, 32))  # 5 input channels into a 3-channel stem: torch's conv raises

    with pytest.raises(RuntimeError) as info:
        run_cli(main)
    assert not isinstance(info.value, UserError)
    assert user_error_message(info.value) is None


def test_plain_value_error_is_not_a_user_mistake():
    def main():
        raise ValueError('an internal invariant')

    with pytest.raises(ValueError, match='internal invariant'):
        run_cli(main)


def test_the_innermost_user_error_of_a_chain_gives_the_message():
    """mmengine's registry re-raises a build error as type(e)('class `X` in ...: msg') with the original as context."""
    try:
        try:
            raise ConfigError('the check said this')
        except ConfigError as e:
            raise ConfigError(f'class `ConvNeXt` in convnext_dense/models/convnext.py: {e}')  # noqa: B904
    except ConfigError as outer:
        assert user_error_message(outer) == 'the check said this'


def _raise_data_error(_):
    raise DataError("label 'a.png' holds value(s) [7] outside the 5 classes")


def test_a_user_error_from_a_dataloader_worker_keeps_its_own_message():
    """torch re-raises a worker's error with its type and the worker's traceback as the message."""
    loader = torch.utils.data.DataLoader([0], num_workers=1, collate_fn=_raise_data_error)
    with pytest.raises(DataError) as info:
        next(iter(loader))
    assert 'DataLoader worker' in str(info.value)
    assert user_error_message(info.value) == "label 'a.png' holds value(s) [7] outside the 5 classes"


def test_return_value_of_main_is_the_exit_code():
    assert run_cli(lambda: None) == 0
    assert run_cli(lambda: 1) == 1


# A mistake for each tool, as a user would make it: every tool answers `error: ...` and exit code 2.
TOOL_MISTAKES = {
    'train': (['configs/detection/no_such_config.py'], 'no_such_config.py'),
    'test': (['configs/detection/cascade_convnext_t_3x.py', 'no_such.pth'], 'no_such.pth'),
    'infer': (['configs/detection/demo/cascade_convnext_demo.py', 'no_such.pth', 'x.jpg'], 'no_such.pth'),
    'flops': (['configs/detection/no_such_config.py'], 'no_such_config.py'),
    'convert_checkpoint': (['no_such_in.pth', 'out.pth'], 'no_such_in.pth'),
    'download_weights': (['configs/detection/no_such_config.py'], 'no_such_config.py'),
    'make_demo_data': (['coco', '--out', '{tmp}/c', '--num-train', '0'], 'num_train=0'),
    'benchmark': (['configs/detection/no_such_config.py'], 'no_such_config.py'),
    'export': (
        ['configs/detection/demo/cascade_convnext_demo.py', 'no_such.pth', '--out', '{tmp}/m.onnx'],
        'no_such.pth',
    ),
    'analyze_logs': (['{tmp}/no_such_work_dir'], 'no_such_work_dir'),
    'confusion_matrix': (['configs/detection/demo/cascade_convnext_demo.py', 'no_such_results.pkl'], 'no_such_results'),
    'browse_dataset': (['configs/detection/demo/cascade_convnext_demo.py', '--max-images', '0'], '--max-images 0'),
    'erf': (['configs/detection/demo/cascade_convnext_demo.py', '--images', '{tmp}/no_images'], 'no_images'),
    'roadmap': (['--task', 'cls', '--config', 'configs/roadmap/no_such_config.py'], 'no_such_config.py'),
}


@pytest.mark.parametrize('tool', sorted(TOOL_MISTAKES))
def test_every_tool_reports_a_mistake_the_same_way(tool, tmp_path, monkeypatch, capsys):
    args, named = TOOL_MISTAKES[tool]
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setattr(sys, 'argv', [f'tools/{tool}.py'] + [a.format(tmp=tmp_path) for a in args])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(osp.join(ROOT, 'tools', f'{tool}.py'), run_name='__main__')
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert err.startswith('error: ') and named in err.splitlines()[0], err
    assert 'Traceback' not in err
