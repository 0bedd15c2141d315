"""The ConvNeXt V2-B/L/H detection and segmentation configs: the recipe each one states, value by value.

The V2 paper reports Mask R-CNN (COCO) and UperNet (ADE20K) for V2-B/L/H, but the authors published no
downstream configs for V2. These configs take every value from a released V1 recipe (named in each
config); this table holds those V1 values (facebookresearch/ConvNeXt object_detection and
semantic_segmentation configs, as in test_detection_configs.py / test_segmentation_configs.py) and
the V2 release's ImageNet-1K fine-tuned EMA checkpoints (facebookresearch/ConvNeXt-V2 README).
Build, wiring and one training step of each config run in those two test files, over every config.
"""

import os.path as osp

import pytest
from mmengine.config import Config

from convnext_dense.models import ARCH_SETTINGS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
V2_IM1K = 'https://dl.fbaipublicfiles.com/convnext/convnextv2/im1k/convnextv2_{}_1k_224_ema.pt'

# Mask R-CNN 3x: arch, drop path, lr, layer-wise decay (rate, num_layers), AMP; V1 Cascade recipe of that width
DETECTION = {
    'mask_rcnn_convnextv2_b_3x.py': ('v2-base', 0.7, 2e-4, (0.8, 12), True),  # V1 Cascade B (1K)
    'mask_rcnn_convnextv2_l_3x.py': ('v2-large', 0.7, 1e-4, (0.7, 12), False),  # V1 Cascade L (22K)
    'mask_rcnn_convnextv2_h_3x.py': ('v2-huge', 0.8, 1e-4, (0.7, 12), False),  # V1 Cascade XL (22K)
}
# UperNet 512, 160k: arch, drop path, lr, AMP, stage-wise decay num_layers; V1-B 512 recipe (L/H fp32 as V1 L/XL)
SEGMENTATION = {
    'upernet_convnextv2_b_512_160k_ade20k.py': ('v2-base', 0.4, 1e-4, True, 12),
    'upernet_convnextv2_l_512_160k_ade20k.py': ('v2-large', 0.4, 1e-4, False, 12),
    'upernet_convnextv2_h_512_160k_ade20k.py': ('v2-huge', 0.4, 1e-4, False, 12),
}


def _size(arch):
    return arch[len('v2-') :]


@pytest.mark.parametrize('name', sorted(DETECTION))
def test_mask_rcnn_v2_recipe(name):
    arch, drop_path, lr, (rate, num_layers), amp = DETECTION[name]
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'detection', name))
    backbone, optim = cfg.model.backbone, cfg.optim_wrapper
    assert (backbone.arch, backbone.drop_path_rate, backbone.layer_scale_init_value) == (arch, drop_path, 0.0)
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=V2_IM1K.format(_size(arch)))
    assert list(cfg.model.neck.in_channels) == list(ARCH_SETTINGS[arch]['dims'])
    assert optim.optimizer == dict(type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=0.05)
    assert optim.type == ('AmpOptimWrapper' if amp else 'OptimWrapper')
    assert optim.paramwise_cfg == dict(decay_rate=rate, decay_type='layer_wise', num_layers=num_layers)
    assert cfg.model.type == 'MaskRCNN' and cfg.train_cfg.max_epochs == 36
    assert cfg.param_scheduler[1].milestones == [27, 33] and cfg.train_dataloader.batch_size == 2


@pytest.mark.parametrize('name', sorted(SEGMENTATION))
def test_upernet_v2_recipe(name):
    arch, drop_path, lr, amp, num_layers = SEGMENTATION[name]
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'segmentation', name))
    backbone, optim = cfg.model.backbone, cfg.optim_wrapper
    assert (backbone.arch, backbone.drop_path_rate, backbone.layer_scale_init_value) == (arch, drop_path, None)
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=V2_IM1K.format(_size(arch)))
    dims = list(ARCH_SETTINGS[arch]['dims'])
    assert list(cfg.model.decode_head.in_channels) == dims and cfg.model.auxiliary_head.in_channels == dims[2]
    assert (optim.type == 'AmpOptimWrapper') == amp
    assert (optim.optimizer.lr, optim.optimizer.weight_decay) == (lr, 0.05)
    assert dict(optim.paramwise_cfg) == dict(decay_rate=0.9, decay_type='stage_wise', num_layers=num_layers)
    assert tuple(cfg.crop_size) == (512, 512) and tuple(cfg.model.test_cfg.stride) == (341, 341)
    assert cfg.train_cfg.max_iters == 160000 and cfg.model.decode_head.num_classes == 150
