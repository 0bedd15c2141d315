"""UperNet in onnxruntime: mmseg's segmentation maps (>= 99.9 % of pixels), in whole-image and slide inference."""

import copy

import numpy as np
import pytest
import torch
from deploy_models import random_image
from mmseg.structures import SegDataSample

from convnext_dense.deploy import load_onnx_model
from convnext_dense.deploy.compare import label_agreement, relative_error
from convnext_dense.deploy.export import build_model, load_model_checkpoint
from convnext_dense.deploy.segmentor import slide_inference, slide_windows


def _sample(image: torch.Tensor, ori_shape) -> SegDataSample:
    h, w = image.shape[1:]
    return SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=tuple(ori_shape), pad_shape=(h, w)))


def _both(cfg, ckpt, path, image, ori_shape):
    model = build_model(cfg)
    load_model_checkpoint(model, ckpt)
    data = dict(inputs=[image], data_samples=[_sample(image, ori_shape)])
    with torch.no_grad():
        expected = model.test_step(copy.deepcopy(data))[0]
    return expected, load_onnx_model(path).test_step(copy.deepcopy(data))[0]


@pytest.mark.parametrize('mode', ['slide', 'whole'])
def test_upernet_maps_match_mmseg(exported, mode):
    options = {} if mode == 'slide' else {'model.test_cfg': dict(mode='whole')}
    cfg, ckpt, path = exported('upernet', **options)
    assert load_onnx_model(path).meta['mode'] == mode
    # larger than the 128 x 128 window in both directions, sizes 32 does not divide, resized from another size
    for (h, w), ori in [((150, 230), (300, 460)), ((128, 97), (128, 97))]:
        expected, got = _both(cfg, ckpt, path, random_image(h, w), ori)
        assert got.pred_sem_seg.data.shape == expected.pred_sem_seg.data.shape == (1, *ori)
        assert label_agreement(got.pred_sem_seg.data, expected.pred_sem_seg.data) >= 0.999
        assert relative_error(got.seg_logits.data, expected.seg_logits.data) < 1e-4


def test_upernet_fp16_runs_close_to_fp32(exported):
    cfg, ckpt, path = exported('upernet', fp16=True)
    expected, got = _both(cfg, ckpt, path, random_image(150, 230), (150, 230))
    assert torch.isfinite(got.seg_logits.data).all()
    assert label_agreement(got.pred_sem_seg.data, expected.pred_sem_seg.data) >= 0.98


def test_slide_inference_is_mmsegs(exported):
    """The host's window loop and stitching, with PyTorch's encode_decode, against mmseg's slide_inference."""
    cfg, ckpt, _ = exported('upernet')
    model = build_model(cfg)
    load_model_checkpoint(model, ckpt)
    crop, stride = model.test_cfg.crop_size, model.test_cfg.stride
    image = random_image(150, 300).float()[None]
    x = model.data_preprocessor(dict(inputs=[random_image(150, 300)]), False)['inputs']
    metas = [dict(img_shape=(150, 300), ori_shape=(150, 300))]
    calls = []

    def run(crops: np.ndarray) -> np.ndarray:
        calls.append(crops.shape)
        normalised = model.data_preprocessor(dict(inputs=list(torch.from_numpy(crops))), False)['inputs']
        with torch.no_grad():
            return model.encode_decode(normalised, [dict(img_shape=crops.shape[2:])]).numpy()

    got = slide_inference(run, image.numpy(), model.out_channels, crop, stride)
    with torch.no_grad():
        expected = model.slide_inference(x, metas)
    assert relative_error(got, expected) < 1e-5
    windows = slide_windows(150, 300, crop, stride)
    assert len(windows) == 2 * 4 and sum(c[0] for c in calls) == len(windows)  # equal crops share a batch
    assert len(calls) == 1


def test_slide_windows_cover_small_images_with_one_window():
    assert slide_windows(60, 90, (128, 128), (85, 85)) == [(0, 60, 0, 90)]
    assert slide_windows(128, 128, (128, 128), (85, 85)) == [(0, 128, 0, 128)]
