"""Mask R-CNN and Cascade Mask R-CNN in onnxruntime: mmdet's detections, matched one to one (IoU >= 0.99, same
labels, scores to 1e-3), and its masks (IoU >= 0.99), in the original image's pixels."""

import copy

import pytest
import torch
from deploy_models import random_image
from mmdet.structures import DetDataSample

from convnext_dense.deploy import load_onnx_model
from convnext_dense.deploy.compare import detections_match, match_detections
from convnext_dense.deploy.export import build_model, load_model_checkpoint


def _sample(image: torch.Tensor, scale) -> DetDataSample:
    h, w = image.shape[1:]
    ori = (round(h / scale[1]), round(w / scale[0]))
    return DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=ori, scale_factor=scale))


def _instances(sample) -> dict:
    pred = sample.pred_instances
    return dict(bboxes=pred.bboxes, scores=pred.scores, labels=pred.labels, masks=pred.get('masks'))


def _compare(cfg, ckpt, path, shapes):
    model = build_model(cfg)
    load_model_checkpoint(model, ckpt)
    onnx_model = load_onnx_model(path)
    results = []
    for seed, (h, w, scale) in enumerate(shapes):
        image = random_image(h, w, seed)
        data = dict(inputs=[image], data_samples=[_sample(image, scale)])
        with torch.no_grad():
            expected = model.test_step(copy.deepcopy(data))[0]
        got = onnx_model.test_step(copy.deepcopy(data))[0]
        assert got.pred_instances.masks.shape == expected.pred_instances.masks.shape
        results.append(match_detections(_instances(got), _instances(expected)))
    return results


# sizes 32 does not divide (padding in the graph), other than the 320 x 320 the graph was traced at, rescaled
SHAPES = [(128, 160, (1.0, 1.0)), (101, 187, (1.25, 1.25)), (200, 75, (0.8, 0.75))]


@pytest.mark.parametrize('kind', ['mask_rcnn', 'cascade'])
def test_detections_and_masks_match_mmdet(exported, kind):
    results = _compare(*exported(kind), SHAPES if kind == 'mask_rcnn' else SHAPES[1:])
    for result in results:
        assert result['ref'] > 0, 'the random model should detect something'
        assert detections_match(result), result


def test_cascade_with_class_agnostic_regression(exported):
    """The configs' class-specific cascade (above) and mmdet's class-agnostic one both export."""
    options = {f'model.roi_head.bbox_head.{i}.reg_class_agnostic': True for i in range(3)}
    for result in _compare(*exported('cascade', **options), SHAPES[2:]):
        assert result['ref'] > 0 and detections_match(result), result


def test_an_image_without_detections(exported):
    cfg, ckpt, path = exported('mask_rcnn', **{'model.test_cfg.rcnn.score_thr': 0.999})
    (result,) = _compare(cfg, ckpt, path, SHAPES[1:2])
    assert result['ref'] == result['out'] == 0


def test_fp16_detector_runs_close_to_fp32(exported):
    results = _compare(*exported('mask_rcnn', fp16=True), SHAPES[:1])
    assert results[0]['ref'] > 0 and results[0]['matched'] >= 0.8 * results[0]['ref']
