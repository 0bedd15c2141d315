"""The benchmark's onnxruntime variants: the same backbone or whole model, exported, timed beside PyTorch."""

import pytest
from deploy_models import CONFIGS, TINY

from convnext_dense import analysis
from convnext_dense.errors import ConfigError


def test_onnxruntime_variants_have_no_layout_or_compile_variants():
    specs = analysis.variant_specs(
        ['convnext', 'timm:nchw'],
        channels_last=(True, False),
        compile=(False, True),
        runtimes=('pytorch', 'onnxruntime'),
    )
    onnx = [(s['model'], s['channels_last'], s['compile']) for s in specs if s.get('runtime') == 'onnxruntime']
    assert onnx == [('convnext', False, False), ('timm', False, False)]
    assert sum('runtime' not in s for s in specs) == 4 + 2  # pytorch: convnext in 4 modes, timm NCHW in 2


def test_backbone_exported_is_timed_beside_pytorch_with_equal_outputs():
    specs = analysis.variant_specs(
        ['convnext', 'convnext-fused'], batch=2, size=(64, 64), arch=TINY['arch'], runtimes=('pytorch', 'onnxruntime')
    )
    result = analysis.run(specs, rounds=1, warmup=1, tasks=('infer', 'latency'), memory=False, log=lambda _: None)
    rows = {row['name']: row for row in result['rows']}
    onnx = rows['convnext | fp32 | ONNX | onnxruntime CPU']
    assert onnx['runtime'] == 'onnxruntime CPU' and onnx['equal'] and onnx['infer_img_s'] > 0 and onnx['latency_ms'] > 0
    assert rows['convnext-fused | fp32 | ONNX | onnxruntime CPU']['equal']
    assert '| convnext | fp32 | ONNX | onnxruntime CPU |' in analysis.markdown(result)


def test_whole_model_exported_runs_its_test_step():
    spec = dict(model=f'config:{CONFIGS["upernet"]}', batch=1, size=(96, 160), runtime='onnxruntime')
    result = analysis.run([spec], rounds=1, warmup=0, tasks=('infer',), memory=False, log=lambda _: None)
    (row,) = result['rows']
    assert row['runtime'] == 'onnxruntime CPU' and row['infer_img_s'] > 0 and 'slide' in row['inference_mode']


def test_trained_models_are_not_exported_by_the_benchmark():
    with pytest.raises(ConfigError, match='tools/export.py'):
        analysis.build_subject(dict(model='trained:x.py', runtime='onnxruntime'))
