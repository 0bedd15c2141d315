"""FLOPs/params of a config's model, through the same path as tools/flops.py."""

import pytest
from mmengine.config import Config

from convnext_dense.analysis.complexity import model_complexity


def test_backbone_flops_and_params_inside_a_segmentor():
    cfg = Config(
        dict(
            default_scope='mmseg',
            custom_imports=dict(imports=['convnext_dense']),
            model=dict(
                type='EncoderDecoder',
                data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]),
                backbone=dict(type='ConvNeXt', arch='tiny', init_cfg=dict(type='Pretrained', checkpoint='x.pth')),
                decode_head=dict(
                    type='FCNHead',
                    in_channels=768,
                    in_index=3,
                    channels=8,
                    num_convs=1,
                    num_classes=3,
                    loss_decode=dict(type='CrossEntropyLoss'),
                ),
            ),
        )
    )
    result = model_complexity(cfg, (224, 224))
    assert result['shape'] == (224, 224)
    # ConvNeXt-T at 224: 4.47 GFLOPs (paper: 4.5). Params: the 28.59M classifier less its 1000-way fc
    # (0.769M) and final norm (1536), plus the four out norms (2 x (96 + 192 + 384 + 768) = 2880).
    assert result['backbone_flops'] / 1e9 == pytest.approx(4.47, abs=0.05)
    assert result['backbone_params'] / 1e6 == pytest.approx(28.589 - 0.769 - 0.0015 + 0.0029, abs=0.005)
    assert result['flops'] > result['backbone_flops'] and result['params'] > result['backbone_params']


@pytest.mark.slow
@pytest.mark.parametrize(
    'config,shape,gflops',
    [
        ('configs/detection/mask_rcnn_convnext_t_3x.py', (1280, 800), 262),
        ('configs/detection/cascade_convnext_t_3x.py', (1280, 800), 741),
        ('configs/segmentation/upernet_convnext_t_512_160k_ade20k.py', (2048, 512), 939),
    ],
)
def test_whole_model_flops_match_the_paper(config, shape, gflops):
    """The paper's Table 3/4 FLOPs (about a minute each on 2 CPU cores)."""
    from pathlib import Path

    from convnext_dense.apis import load_config

    root = Path(__file__).resolve().parents[2]
    result = model_complexity(load_config(str(root / config)), shape)
    assert result['flops'] / 1e9 == pytest.approx(gflops, abs=2)
