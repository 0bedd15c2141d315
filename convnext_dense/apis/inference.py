"""Inference on user images with mmdet's ``DetInferencer`` or mmseg's ``MMSegInferencer``, saved as PNG."""

import json
import os
import os.path as osp
from typing import List

import mmcv
import numpy as np
from mmengine.config import Config

from ..errors import ConfigError, MissingFileError
from ..utils import IMG_EXTENSIONS


def list_images(inputs: str) -> List[str]:
    """The image files named by ``inputs`` (a file or a folder); an error if there are none."""
    if osp.isdir(inputs):
        files = sorted(osp.join(inputs, f) for f in os.listdir(inputs) if f.lower().endswith(IMG_EXTENSIONS))
        if not files:
            raise MissingFileError(f'{inputs!r} holds no images ({", ".join(IMG_EXTENSIONS)})')
        return files
    if not osp.isfile(inputs):
        raise MissingFileError(f'{inputs!r} is neither an image file nor a folder')
    return [inputs]


def run_inference(
    cfg: Config,
    checkpoint: str,
    inputs: str,
    out_dir: str,
    score_thr: float = 0.3,
    device: str = 'cpu',
    backend: str = 'pytorch',
) -> List[str]:
    """Predict every image of ``inputs``; write PNG drawings (and raw predictions) to ``out_dir``.

    ``backend='onnxruntime'``: ``checkpoint`` is a file of ``tools/export.py``, run in onnxruntime.
    """
    if backend not in BACKENDS:
        raise ConfigError(f'backend={backend!r}; use one of {BACKENDS}')
    if not osp.isfile(checkpoint):
        raise MissingFileError(f'checkpoint {checkpoint!r} does not exist')
    images = list_images(inputs)
    scope = cfg.get('default_scope')
    os.makedirs(out_dir, exist_ok=True)
    written = []
    if scope == 'mmdet':
        from mmdet.apis import DetInferencer

        inferencer = _inferencer(DetInferencer, cfg, checkpoint, device, backend, show_progress=False)
        os.makedirs(osp.join(out_dir, 'preds'), exist_ok=True)
        for path in images:
            result = inferencer(
                path, return_vis=True, no_save_vis=True, pred_score_thr=score_thr, return_datasamples=False
            )
            name = osp.splitext(osp.basename(path))[0]
            written.append(_save_rgb(result['visualization'][0], osp.join(out_dir, f'{name}.png')))
            with open(osp.join(out_dir, 'preds', f'{name}.json'), 'w') as f:
                json.dump(result['predictions'][0], f)
    elif scope == 'mmseg':
        from mmseg.apis import MMSegInferencer

        inferencer = _inferencer(MMSegInferencer, cfg, checkpoint, device, backend)
        os.makedirs(osp.join(out_dir, 'masks'), exist_ok=True)
        for path in images:
            result = inferencer(path, return_vis=True, show=False)
            name = osp.splitext(osp.basename(path))[0]
            written.append(_save_rgb(_single(result['visualization']), osp.join(out_dir, f'{name}.png')))
            mask = np.asarray(_single(result['predictions']), dtype=np.uint8)
            mmcv.imwrite(mask, osp.join(out_dir, 'masks', f'{name}.png'))
    else:
        raise ConfigError(
            f"tools/infer.py draws detection (default_scope='mmdet') and segmentation ('mmseg') "
            f'predictions; this config has default_scope={scope!r}'
        )
    return written


# --- backends: the PyTorch checkpoint, or an exported ONNX file in the model's place (convnext_dense.deploy) ---
BACKENDS = ('pytorch', 'onnxruntime')


def _inferencer(inferencer_cls, cfg: Config, checkpoint: str, device: str, backend: str, **kwargs):
    if backend == 'onnxruntime':
        from ..deploy.runtime import onnx_inferencer

        return onnx_inferencer(inferencer_cls, cfg, checkpoint, device, **kwargs)
    return inferencer_cls(model=cfg, weights=checkpoint, device=device, **kwargs)


def _single(value):
    """MMSegInferencer returns a bare item, not a one-item list, for a single image."""
    return value[0] if isinstance(value, list) else value


def _save_rgb(image: np.ndarray, path: str) -> str:
    mmcv.imwrite(mmcv.rgb2bgr(image), path)
    return path
