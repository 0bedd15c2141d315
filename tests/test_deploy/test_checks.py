"""A model that cannot be exported: a ConfigError naming the part and its config key, not an exporter traceback."""

import runpy
import sys

import pytest
import torch
import torch.nn as nn
from deploy_models import ROOT, random_checkpoint, tiny_config
from mmengine.registry import MODELS

from convnext_dense.deploy import export_onnx
from convnext_dense.errors import ConfigError


@pytest.mark.parametrize(
    'options, key',
    [
        (
            {'model.roi_head.bbox_roi_extractor.roi_layer': dict(_delete_=True, type='RoIPool', output_size=7)},
            'model.roi_head.bbox_roi_extractor.roi_layer.type',
        ),
        ({'model.test_cfg.rcnn.nms.type': 'soft_nms'}, 'model.test_cfg.rcnn.nms.type'),
        (
            {'model.roi_head.bbox_roi_extractor.roi_layer.pool_mode': 'max'},
            'model.roi_head.bbox_roi_extractor.roi_layer.pool_mode',
        ),
    ],
)
def test_parts_without_an_onnx_form_are_named_by_their_key(tmp_path, options, key):
    cfg = tiny_config('mask_rcnn', **options)
    with pytest.raises(ConfigError, match=f'export: {key}'.replace('.', r'\.').replace('[', r'\[')):
        export_onnx(cfg, None, str(tmp_path / 'm.onnx'))


def test_a_cascade_stage_is_named_with_its_index(tmp_path):
    cfg = tiny_config('cascade', **{'model.roi_head.bbox_head.2.bbox_coder.type': 'DistancePointBBoxCoder'})
    with pytest.raises(ConfigError, match=r'model\.roi_head\.bbox_head\[2\]\.bbox_coder\.type'):
        export_onnx(cfg, None, str(tmp_path / 'm.onnx'))


@MODELS.register_module(force=True)
class SpectralTestBackbone(nn.Module):
    """A backbone with an operator torch's exporter has no ONNX form for (the FFT)."""

    def __init__(self, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 4, stride=4)
        self.out_channels = (16,)

    def forward(self, x):
        return (torch.fft.rfft2(self.conv(x)).abs()[..., : x.shape[-1] // 4],)


@MODELS.register_module(force=True)
class PythonOnlyTestBackbone(SpectralTestBackbone):
    """A backbone that fails while traced (Python code that cannot be recorded)."""

    def forward(self, x):
        if torch.jit.is_tracing():
            raise NotImplementedError('this backbone reads its input as a Python list')
        return super().forward(x)


@pytest.mark.parametrize('backbone', ['SpectralTestBackbone', 'PythonOnlyTestBackbone'])
@pytest.mark.parametrize('part', ['model', 'backbone'])
def test_a_part_that_does_not_trace_is_named(tmp_path, backbone, part):
    cfg = tiny_config('classifier')
    cfg.model.backbone = dict(type=backbone)  # in the classifier: ConvNeXtClassifier takes any backbone
    with pytest.raises(ConfigError) as error:
        export_onnx(cfg, None, str(tmp_path / 'm.onnx'), part=part)
    message = str(error.value)
    assert f'model.backbone ({backbone})' in message and 'cannot be exported to ONNX' in message
    assert ('fft_rfft2' in message) if backbone.startswith('Spectral') else ('Python list' in message)


@MODELS.register_module(force=True)
class FixedSizeTestBackbone(SpectralTestBackbone):
    """A backbone that reads a size as a Python number: traced, it keeps the example's size."""

    def forward(self, x):
        return (self.conv(x) * float(x.shape[-1]),)


@MODELS.register_module(force=True)
class FixedShapeTestBackbone(SpectralTestBackbone):
    """A backbone whose reshape takes the example's size as constants."""

    def forward(self, x):
        y = self.conv(x)
        return (y.reshape(-1, int(y.shape[2]) * int(y.shape[3])).reshape(y.shape[0], 16, int(y.shape[2]), -1),)


def test_a_part_with_sizes_fixed_at_export_is_caught_at_another_size(tmp_path):
    cfg = tiny_config('classifier')
    cfg.model.backbone = dict(type='FixedSizeTestBackbone')
    with pytest.raises(ConfigError, match=r"traced at 224x224 does not give PyTorch's results at 261x277"):
        export_onnx(cfg, None, str(tmp_path / 'm.onnx'), part='backbone')  # the classifier's LayerNorm hides a scale
    cfg.model.backbone = dict(type='FixedShapeTestBackbone')
    with pytest.raises(
        ConfigError, match=r'model\.backbone \(FixedShapeTestBackbone\).*fails in onnxruntime at 261x277'
    ):
        export_onnx(cfg, None, str(tmp_path / 'm.onnx'))
    assert export_onnx(cfg, None, str(tmp_path / 'm.onnx'), verify=False)['task'] == 'classifier'  # as asked


def test_the_file_records_its_verification(exported):
    from convnext_dense.deploy import read_metadata

    verified = read_metadata(exported('upernet')[2])['verified']
    assert verified['size'] == [2, 3, 128 + 37, 128 + 53] and verified['max_rel_err'] < 1e-4


def test_single_stage_detectors_are_refused_by_type(tmp_path):
    cfg = tiny_config('mask_rcnn')
    head = dict(type='RPNHead', in_channels=64, feat_channels=64, anchor_generator=cfg.model.rpn_head.anchor_generator)
    cfg.model = dict(
        type='RetinaNet',
        data_preprocessor=cfg.model.data_preprocessor,
        backbone=cfg.model.backbone,
        neck=cfg.model.neck,
        bbox_head=dict(head, type='RetinaHead', num_classes=5),
        test_cfg=dict(nms_pre=100, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=10),
    )
    with pytest.raises(ConfigError, match=r'export: model\.type is RetinaNet'):
        export_onnx(cfg, None, str(tmp_path / 'm.onnx'))


def test_a_checkpoint_of_another_model_is_a_checkpoint_error(tmp_path):
    ckpt = random_checkpoint(tiny_config('cascade'), tmp_path / 'cascade.pth')
    with pytest.raises(ValueError, match='does not fit the config'):
        export_onnx(tiny_config('mask_rcnn'), ckpt, str(tmp_path / 'm.onnx'))


def test_the_tool_prints_the_error_and_exits_2(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / 'roipool.py'
    cfg.write_text(
        f"_base_ = '{ROOT}/configs/detection/demo/mask_rcnn_convnext_demo.py'\n"
        "roi_layer = dict(_delete_=True, type='RoIPool', output_size=7)\n"
        'model = dict(roi_head=dict(bbox_roi_extractor=dict(roi_layer=roi_layer)))\n'
    )
    ckpt = random_checkpoint(tiny_config('mask_rcnn'), tmp_path / 'model.pth')  # the config is checked first
    monkeypatch.setattr(sys, 'argv', ['tools/export.py', str(cfg), ckpt, '--out', str(tmp_path / 'm.onnx')])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(ROOT / 'tools/export.py'), run_name='__main__')
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert err.startswith('error: export: model.roi_head.bbox_roi_extractor.roi_layer.type is RoIPool'), err
    assert 'Traceback' not in err
