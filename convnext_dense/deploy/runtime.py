"""Run an exported ONNX file in onnxruntime behind the ``test_step`` of the PyTorch model it came from.

:func:`load_onnx_model` reads the file's metadata (:func:`~.export.read_metadata`) and returns an
mmengine ``BaseModel`` whose ``test_step(data)`` takes the test dataloader's batch (the pipeline's uint8
images and data samples) and returns the data samples that the PyTorch model's ``test_step`` returns:
``pred_instances`` (boxes, scores, labels, masks in the original image) for detectors, ``pred_sem_seg`` and
``seg_logits`` for segmentors, ``pred_score`` / ``pred_label`` for classifiers. mmengine's evaluators,
mmdet's ``DetInferencer`` and mmseg's ``MMSegInferencer`` take it in the PyTorch model's place
(:mod:`.evaluate`, ``tools/infer.py --backend onnxruntime``). The host does what the graph leaves out:
the sliding windows (:func:`~.segmentor.slide_inference`), the resize to the original size, the
masks' pasting (:func:`~.detector.paste_masks`).
"""

import warnings
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement, InstanceData, PixelData

from ..errors import ConfigError, DeviceError
from .detector import paste_masks
from .export import read_metadata
from .segmentor import seg_postprocess, slide_inference

__all__ = ['providers_for', 'create_session', 'load_onnx_model', 'onnx_inferencer', 'OnnxModel']

_GPU_PROVIDERS = ('TensorrtExecutionProvider', 'CUDAExecutionProvider')


def providers_for(device: str = 'cpu') -> List[str]:
    """onnxruntime's execution providers for ``device``: TensorRT and CUDA where installed for 'cuda', else CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device.startswith('cuda'):
        gpu = [p for p in _GPU_PROVIDERS if p in available]
        if not gpu:
            raise DeviceError(
                f'device={device!r}: this onnxruntime ({ort.__version__}) has only {available}; install '
                f'onnxruntime-gpu for the CUDA and TensorRT providers, or run with --device cpu'
            )
        return gpu + ['CPUExecutionProvider']
    return ['CPUExecutionProvider']


def create_session(path: str, device: str = 'cpu', threads: Optional[int] = None, providers: Sequence[str] = ()):
    """An ``onnxruntime.InferenceSession`` for ``path`` (``threads``: intra-op threads; None: onnxruntime's default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    return ort.InferenceSession(path, options, providers=list(providers) or providers_for(device))


class OnnxModel(BaseModel):
    """An exported graph in onnxruntime with the PyTorch model's ``test_step``; see :func:`load_onnx_model`.

    Args:
        path: the ``.onnx`` file written by :func:`~.export.export_onnx`.
        device: 'cpu' or 'cuda' (onnxruntime's providers for it, :func:`providers_for`).
        threads: onnxruntime's intra-op threads (None: its default, all cores).
    """

    def __init__(self, path: str, device: str = 'cpu', threads: Optional[int] = None):
        super().__init__()
        self.path = path
        self.meta = read_metadata(path)
        self.session = create_session(path, device, threads)
        self.input_name = self.meta['input_name']
        self.dataset_meta = dict(self.meta.get('dataset_meta') or {})
        if 'palette' in self.dataset_meta:  # JSON made the colour tuples lists; mmengine's visualiser wants tuples
            self.dataset_meta['palette'] = [tuple(c) for c in self.dataset_meta['palette']]

    def run(self, image: np.ndarray) -> List[np.ndarray]:
        """The graph's outputs for a float32 NCHW batch."""
        return self.session.run(None, {self.input_name: np.ascontiguousarray(image, dtype=np.float32)})

    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        if mode != 'predict':
            raise ConfigError(f'an ONNX model only predicts; mode={mode!r}')
        return self.test_step(dict(inputs=inputs, data_samples=data_samples))

    def val_step(self, data):
        return self.test_step(data)

    def test_step(self, data: dict) -> list:
        return [self.predict_one(img, sample) for img, sample in zip(data['inputs'], data['data_samples'])]

    def predict_one(self, image: torch.Tensor, sample):
        raise NotImplementedError


def _image(image: torch.Tensor) -> np.ndarray:
    """The pipeline's (3, H, W) image as the graphs' (1, 3, H, W) float32 input."""
    return image.float().numpy()[None]


class OnnxDetector(OnnxModel):
    """``DetDataSample.pred_instances`` in the original image, as ``TwoStageDetector.predict(rescale=True)``."""

    def predict_one(self, image, sample):
        outputs = self.run(_image(image))
        boxes, scores, labels = (torch.from_numpy(o) for o in outputs[:3])
        w_scale, h_scale = sample.metainfo.get('scale_factor', (1.0, 1.0))
        scale = boxes.new_tensor([w_scale, h_scale, w_scale, h_scale])
        pred = InstanceData(scores=scores, labels=labels)
        if self.meta['with_mask']:
            pred.bboxes = boxes / scale  # FCNMaskHead rescales in place by division
            height, width = sample.metainfo['ori_shape'][:2]
            pred.masks = paste_masks(
                torch.from_numpy(outputs[3]), pred.bboxes, height, width, self.meta['mask_thr_binary']
            )
        else:
            pred.bboxes = boxes * (1 / scale)  # BBoxHead: scale_boxes(boxes, 1 / scale_factor)
        sample.pred_instances = pred
        return sample


class OnnxSegmentor(OnnxModel):
    """``SegDataSample.seg_logits`` / ``pred_sem_seg`` at the original size, as ``EncoderDecoder.predict``."""

    def predict_one(self, image, sample):
        meta = self.meta
        x = _image(image)
        if meta['mode'] == 'slide':
            logits = slide_inference(
                lambda crops: self.run(crops)[0], x, meta['num_classes'], meta['crop_size'], meta['stride']
            )
        else:
            logits = self.run(x)[0]
        ori_shape = sample.metainfo.get('ori_shape', x.shape[2:])[:2]
        seg_logits, pred = seg_postprocess(
            torch.from_numpy(logits), ori_shape, meta['align_corners'], meta['threshold']
        )
        sample.set_data(dict(seg_logits=PixelData(data=seg_logits), pred_sem_seg=PixelData(data=pred)))
        return sample


class OnnxClassifier(OnnxModel):
    """``pred_score`` (softmax) and ``pred_label``, as ``ConvNeXtClassifier.predict``; a batch at once."""

    def test_step(self, data: dict) -> list:
        images = np.concatenate([_image(img) for img in data['inputs']])
        scores = torch.from_numpy(self.run(images)[0]).softmax(dim=1)
        samples = data.get('data_samples') or [BaseDataElement() for _ in range(len(images))]
        for sample, score in zip(samples, scores):
            sample.pred_score = score
            sample.pred_label = score.argmax().reshape(())
        return samples


_MODELS = dict(detector=OnnxDetector, segmentor=OnnxSegmentor, classifier=OnnxClassifier)


def load_onnx_model(path: str, device: str = 'cpu', threads: Optional[int] = None) -> OnnxModel:
    """The :class:`OnnxModel` for an exported detector, segmentor or classifier."""
    task = read_metadata(path)['task']
    if task not in _MODELS:
        raise ConfigError(
            f'{path!r} holds a {task} graph (feature maps), which has no test_step; run it with '
            f'convnext_dense.deploy.create_session, or export the whole model'
        )
    return _MODELS[task](path, device, threads)


def onnx_inferencer(inferencer_cls, cfg, path: str, device: str = 'cpu', **kwargs):
    """mmdet's ``DetInferencer`` or mmseg's ``MMSegInferencer`` with the exported file in the PyTorch model's place.

    The inferencer keeps what it builds from the config (the test pipeline, the visualiser) and calls the
    file's :class:`OnnxModel` where it would call the model, so the drawings are the PyTorch path's. Class
    names and palette come from the file (the checkpoint's ``dataset_meta`` at export).
    """
    model = load_onnx_model(path, device)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # "checkpoint is not loaded": the weights are the file's, not the model's
        inferencer = inferencer_cls(model=cfg, weights=None, device='cpu', **kwargs)
    meta = dict(model.dataset_meta)
    if type(inferencer).__name__ == 'DetInferencer':
        # DetInferencer's palette: its argument, else the config's dataset, else the checkpoint's ('random' if none)
        built = inferencer.model.dataset_meta.get('palette')
        if built != 'random' or 'palette' not in meta:
            meta['palette'] = built
    model.dataset_meta = meta
    inferencer.model = model
    inferencer.visualizer.dataset_meta = meta
    return inferencer
