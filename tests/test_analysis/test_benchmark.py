"""tools/benchmark.py and convnext_dense.analysis on tiny models: it runs, modes give equal outputs,
the JSON/markdown/PNG have their fields, trained checkpoints go through the same engine as backbones.
Nothing here checks a timing."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from convnext_dense import analysis
from convnext_dense.analysis.subjects import ConfigSubject

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))
import benchmark as tool  # noqa: E402  (tools/benchmark.py)

TINY = ['--depths', '1', '1', '1', '1', '--dims', '8', '16', '32', '64']
ROW_FIELDS = {
    'name',
    'model',
    'dtype',
    'channels_last',
    'compile',
    'batch',
    'size',
    'params_m',
    'gflops',
    'infer_img_s',
    'infer_spread_img_s',
    'infer_ratio',
    'latency_ms',
    'latency_spread_ms',
    'train_img_s',
    'train_spread_img_s',
    'train_ratio',
    'peak_mem_mib',
    'max_rel_err',
    'equal',
}


def test_backbone_modes_give_equal_outputs_and_the_json_has_its_fields(tmp_path):
    out = tmp_path / 'bench'
    result = tool.main(
        [
            '--models',
            'timm',
            'convnext',
            'convnext-fused',
            'convnext-ref',
            *TINY,
            '--size',
            '32',
            '48',
            '--batch',
            '2',
            '--rounds',
            '1',
            '--warmup',
            '0',
            '--channels-last',
            'off',
            'on',
            '--dtypes',
            'fp32',
            'bf16',
            '--no-memory',
            '--out',
            str(out),
        ]
    )
    rows = result['rows']
    # 4 models x 2 dtypes x 2 layouts, less convnext-ref's channels-last duplicate
    assert len(rows) == 14 and len({r['name'] for r in rows}) == 14
    for row in rows:
        assert ROW_FIELDS <= set(row), ROW_FIELDS - set(row)
        assert row['equal'], row  # same weights in every ConvNeXt implementation and mode
        assert row['max_rel_err'] < (1e-4 if row['dtype'] == 'fp32' else 5e-2)
        assert row['infer_img_s'] > 0 and row['train_img_s'] > 0 and row['latency_ms'] > 0
        assert row['infer_spread_img_s'][0] <= row['infer_img_s'] <= row['infer_spread_img_s'][1]
    assert rows[0]['infer_ratio'] == 1.0 and rows[0]['name'].startswith('timm | fp32 | NCHW')
    assert {r['params_m'] for r in rows if r['dtype'] == 'fp32' and r['model'] != 'convnext-fused'} == {
        rows[0]['params_m']
    }
    saved = json.loads(out.with_suffix('.json').read_text())
    assert saved['meta']['command'].startswith('python tools/benchmark.py --models timm')
    assert {'torch', 'device', 'threads', 'rounds', 'warmup', 'load_before', 'load_after', 'baseline'} <= set(
        saved['meta']
    )
    table = out.with_suffix('.md').read_text()
    assert 'inference img/s' in table and 'Command: `python tools/benchmark.py' in table
    assert table.count('\n| ') == len(rows) + 1
    assert out.with_suffix('.png').stat().st_size > 1000


def test_timm_weights_map_onto_ours():
    ref = analysis.build_backbone('timm', dict(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)), channels_last=False)
    ours = analysis.build_backbone('convnext', dict(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert analysis.relative_error(ours(x), ref(x)) < 1e-5
    with pytest.raises(ValueError, match="unknown backbone 'vit'"):
        analysis.build_backbone('vit')


def test_command_line_runs_on_a_tiny_model(tmp_path):
    """The command as a user runs it."""
    out = tmp_path / 'cli'
    proc = subprocess.run(
        [
            sys.executable,
            'tools/benchmark.py',
            '--models',
            'convnext',
            *TINY,
            '--size',
            '32',
            '32',
            '--batch',
            '1',
            '--rounds',
            '1',
            '--warmup',
            '0',
            '--tasks',
            'infer',
            '--no-memory',
            '--out',
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.with_suffix('.json').read_text())['rows']
    assert rows[0]['model'] == 'convnext' and rows[0]['infer_img_s'] > 0
    assert '| convnext | fp32 | channels-last | eager |' in proc.stdout


def test_profile_table_names_the_top_operators():
    spec = dict(model='convnext', arch=dict(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)), batch=1, size=[32, 32])
    table = analysis.profile_table(spec, 'train')
    assert table.startswith('convnext | fp32 | NCHW | eager, train:') and 'aten::' in table and 'Self CPU' in table


def test_cpu_peak_memory_of_a_training_step():
    """Measured in a fresh subprocess per variant (its peak resident set)."""
    spec = dict(model='convnext', arch=dict(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)), batch=1, size=[32, 32])
    peak = analysis.peak_memory(dict(spec, size=[256, 256]))['peak_mib']
    # the stem's output alone is 8x64x64 floats; a training step keeps a few dozen such maps
    assert 1 < peak < 500


def test_swin_runs_at_its_own_size():
    result = tool.main(
        [
            '--models',
            'swin',
            '--size',
            '32',
            '32',
            '--batch',
            '1',
            '--rounds',
            '1',
            '--warmup',
            '0',
            '--tasks',
            'infer',
            '--no-memory',
        ]
    )
    row = result['rows'][0]
    assert 27 < row['params_m'] < 28.5 and row['equal']  # mmdet's Swin-T (27.5 M), compared with itself


@pytest.mark.slow  # about 45 s: builds and steps two whole models
@pytest.mark.parametrize(
    'config', ['configs/segmentation/demo/upernet_convnext_demo.py', 'configs/detection/demo/cascade_convnext_demo.py']
)
def test_whole_config_model_inference_and_train_step(config):
    result = tool.main(
        [
            '--models',
            f'config:{ROOT / config}',
            '--size',
            '64',
            '64',
            '--batch',
            '2',
            '--rounds',
            '1',
            '--warmup',
            '0',
            '--tasks',
            'infer',
            'train',
            '--no-memory',
        ]
    )
    row = result['rows'][0]
    assert row['infer_img_s'] > 0 and row['train_img_s'] > 0 and row['gflops'] > 0 and row['params_m'] > 0
    assert row['equal'] is None  # whole models: outputs are not compared


def test_scaling_writes_two_pngs(tmp_path):
    result = tool.main(
        [
            '--scaling',
            '--models',
            'convnext',
            'timm',
            *TINY,
            '--scaling-sizes',
            '32',
            '64',
            '--scaling-batches',
            '1',
            '2',
            '--rounds',
            '1',
            '--warmup',
            '0',
            '--no-memory',
            '--out',
            str(tmp_path / 'scaling'),
        ]
    )
    assert [(p['model'], p['point']) for p in result['size']] == [
        ('convnext', 32),
        ('timm', 32),
        ('convnext', 64),
        ('timm', 64),
    ]
    assert len(result['batch']) == 4
    for name in ('scaling_size.png', 'scaling_batch.png'):
        assert (tmp_path / name).stat().st_size > 1000


def test_trained_model_report_mode_is_still_parsed_and_modes_do_not_mix():
    args = tool.parse_args(['a.py', 'b.py', '--checkpoints', 'none', 'none'])
    assert args.configs == ['a.py', 'b.py'] and not args.models
    with pytest.raises(SystemExit):
        tool.parse_args(['a.py', '--models', 'convnext'])
    with pytest.raises(SystemExit):
        tool.parse_args([])


def test_segmentation_config_model_infers_with_its_sliding_windows():
    """config:PATH times mmseg's ``test_step`` as the config tests: slide inference over crops, counted here."""
    config = 'config:' + str(ROOT / 'configs/segmentation/demo/upernet_convnext_demo.py')
    model = ConfigSubject(dict(model=config, batch=2, size=(128, 256)))
    # demo: 128x128 crops, stride 85: one row of (256 - 128 + 84) // 85 + 1 = 3 windows
    assert model.inference_mode() == 'slide, 3 windows of 128x128, stride 85x85'
    calls = []
    encode_decode = model.module.encode_decode
    model.module.encode_decode = lambda inputs, metas: calls.append(tuple(inputs.shape)) or encode_decode(inputs, metas)
    out = model.infer(1)
    assert calls == [(1, 3, 128, 128)] * 3
    assert tuple(out[0].seg_logits.data.shape) == (5, 128, 256)
    losses = model.train_step()  # batch 2: at batch 1 the PPM's 1x1 pooled map cannot train its BatchNorm
    assert losses and all(torch.isfinite(v).all() for v in losses.values())
    detection = ConfigSubject(
        dict(model='config:' + str(ROOT / 'configs/detection/demo/cascade_convnext_demo.py'), size=(64, 64))
    )
    assert detection.inference_mode() == 'whole image'


def test_baseline_picks_the_variant_ratios_are_relative_to(tmp_path):
    out = tmp_path / 'base'
    result = tool.main(
        [
            '--models',
            'convnext',
            'timm',
            *TINY,
            '--size',
            '32',
            '32',
            '--batch',
            '1',
            '--rounds',
            '1',
            '--warmup',
            '0',
            '--tasks',
            'infer',
            '--no-memory',
            '--baseline',
            '1',
            '--out',
            str(out),
        ]
    )
    first, second = result['rows']
    assert second['infer_ratio'] == 1.0 and first['infer_ratio'] == first['infer_img_s'] / second['infer_img_s']
    assert result['meta']['baseline'].startswith('timm')
    assert 'Ratios relative to `timm |' in out.with_suffix('.md').read_text()
    with pytest.raises(ValueError, match='--baseline 2: there are 2 variants'):
        tool.main(['--models', 'convnext', 'timm', *TINY, '--size', '32', '32', '--no-memory', '--baseline', '2'])
