"""The deploy tests' fixture: tiny models exported once per session (helpers in deploy_models.py)."""

import pytest
from deploy_models import random_checkpoint, tiny_config

from convnext_dense.deploy.export import export_onnx


@pytest.fixture(scope='session')
def exported(tmp_path_factory):
    """``exported(kind, part='model', fp16=False, **options)`` -> ``(cfg, checkpoint, onnx_path)``, made once."""
    made = {}

    def make(kind: str, part: str = 'model', fp16: bool = False, **options):
        key = (kind, part, fp16, repr(sorted(options.items())))
        if key not in made:
            folder = tmp_path_factory.mktemp(f'onnx_{kind}')
            cfg = tiny_config(kind, **options)
            ckpt = random_checkpoint(cfg, folder / 'model.pth')
            onnx_path = str(folder / 'model.onnx')
            export_onnx(cfg, ckpt, onnx_path, part=part, fp16=fp16)
            made[key] = (cfg, ckpt, onnx_path)
        return made[key]

    return make
