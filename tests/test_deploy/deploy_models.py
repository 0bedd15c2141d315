"""Tiny models of each family with random weights, and their inputs (the fixtures are in conftest.py)."""

from pathlib import Path

import numpy as np
import torch

from convnext_dense.apis import load_config
from convnext_dense.deploy.export import build_model

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = {
    'classifier': ROOT / 'configs/classification/demo/convnext_demo.py',
    'upernet': ROOT / 'configs/segmentation/demo/upernet_convnext_demo.py',
    'mask_rcnn': ROOT / 'configs/detection/demo/mask_rcnn_convnext_demo.py',
    'cascade': ROOT / 'configs/detection/demo/cascade_convnext_demo.py',
}
# Smaller than the demos: the tiny ConvNeXt of tests/conftest.py, narrow heads.
TINY = dict(arch=dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64]))
TINY_OPTIONS = {
    'classifier': {'model.backbone.arch': TINY['arch']},
    'upernet': {
        'model.backbone.arch': TINY['arch'],
        'model.decode_head.in_channels': [8, 16, 32, 64],
        'model.decode_head.channels': 16,
        'model.auxiliary_head.in_channels': 32,
        'model.auxiliary_head.channels': 8,
    },
    'mask_rcnn': {'model.backbone.arch': TINY['arch'], 'model.neck.in_channels': [8, 16, 32, 64]},
    'cascade': {'model.backbone.arch': TINY['arch'], 'model.neck.in_channels': [8, 16, 32, 64]},
}


def tiny_config(kind: str, **options):
    """The demo config of ``kind`` with the tiny backbone (and ``options``, --cfg-options style)."""
    return load_config(str(CONFIGS[kind]), {**TINY_OPTIONS[kind], **options})


def random_checkpoint(cfg, path, seed: int = 0, classes=None) -> str:
    """A whole-model checkpoint with random weights and a dataset_meta, as mmengine's Runner saves one."""
    torch.manual_seed(seed)
    model = build_model(cfg)
    with torch.no_grad():  # norms and layer scales away from their init: the deploy folding has work to do
        for module in model.modules():
            if (
                isinstance(module, (torch.nn.LayerNorm, torch.nn.modules.batchnorm._BatchNorm))
                and module.weight is not None
            ):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
        for name, param in model.named_parameters():
            if name.endswith('gamma'):
                param.uniform_(0.5, 1.5)
    classes = classes or [f'class{i}' for i in range(16)]
    palette = [((37 * i) % 256, (91 * i) % 256, (151 * i) % 256) for i in range(len(classes))]  # tuples, as datasets
    meta = {'dataset_meta': {'classes': classes, 'palette': palette}}
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, path)
    return str(path)


def random_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A (3, H, W) uint8 image with some structure (blobs on noise), as a test pipeline hands it over."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 60, (3, height, width)).astype(np.float32)
    for _ in range(4):
        y, x = rng.integers(0, height), rng.integers(0, width)
        h, w = rng.integers(8, max(9, height // 2)), rng.integers(8, max(9, width // 2))
        image[:, y : y + h, x : x + w] = rng.integers(100, 255, (3, 1, 1))
    return torch.from_numpy(image.astype(np.uint8))
