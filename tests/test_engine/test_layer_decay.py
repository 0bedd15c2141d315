"""The paper's layer-wise (detection) and stage-wise (segmentation) lr decay, through mmdet's and mmseg's
own LearningRateDecayOptimizerConstructor, checked against the released rule (docs/recipes.md) written out here."""

import re

import pytest
import torch.nn as nn
from mmengine.registry import DefaultScope

from convnext_dense.models import ConvNeXt

BASE_LR, WD = 1e-3, 0.05


def expected_layer_id(name: str, num_layers: int, decay_type: str) -> int:
    """docs/recipes.md, "Layer-wise decay, as released"."""
    m = re.match(r'backbone\.(downsample_layers|stages)\.(\d+)(?:\.(\d+))?', name)
    if m is None:
        return num_layers + 1  # neck and heads: scale 1
    kind, stage = m.group(1), int(m.group(2))
    if decay_type == 'stage_wise':
        return 0 if kind == 'downsample_layers' else stage + 1
    if kind == 'downsample_layers':
        return {0: 0, 1: 2, 2: 3, 3: num_layers}[stage]
    return {0: 1, 1: 2, 2: 3 + int(m.group(3)) // 3, 3: num_layers}[stage]


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = ConvNeXt(dict(depths=(1, 1, 9, 1), dims=(8, 16, 32, 64)), layer_scale_init_value=1.0)
        self.neck = nn.Conv2d(64, 8, 1)


@pytest.mark.parametrize(
    'scope,decay_type,rate',
    [
        ('mmdet', 'layer_wise', 0.7),
        ('mmseg', 'stage_wise', 0.9),
        ('mmdet', 'stage_wise', 0.9),
        ('mmseg', 'layer_wise', 0.8),
    ],
)
def test_lr_and_weight_decay_of_every_parameter_follow_the_recipe(scope, decay_type, rate):
    registry = __import__(f'{scope}.registry', fromlist=['OPTIM_WRAPPER_CONSTRUCTORS']).OPTIM_WRAPPER_CONSTRUCTORS
    num_layers = 6
    model = Detector()
    with DefaultScope.overwrite_default_scope(scope):
        constructor = registry.build(
            dict(
                type='LearningRateDecayOptimizerConstructor',
                optim_wrapper_cfg=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=BASE_LR, weight_decay=WD)),
                paramwise_cfg=dict(decay_rate=rate, decay_type=decay_type, num_layers=num_layers),
            )
        )
        optim = constructor(model)
    group_of = {id(p): g for g in optim.optimizer.param_groups for p in g['params']}
    names = dict(model.named_parameters())
    for name, param in names.items():
        group = group_of[id(param)]
        layer_id = expected_layer_id(name, num_layers, decay_type)
        assert group['lr'] == pytest.approx(BASE_LR * rate ** (num_layers + 2 - layer_id - 1)), name
        no_decay = param.dim() == 1 or name.endswith('.bias')
        assert group['weight_decay'] == (0.0 if no_decay else WD), name
    # Named examples, spelled out.
    lr = {n: group_of[id(p)]['lr'] for n, p in names.items()}
    if decay_type == 'layer_wise':
        assert lr['backbone.downsample_layers.0.0.weight'] == pytest.approx(BASE_LR * rate**7)
        assert lr['backbone.stages.2.7.pwconv1.weight'] == pytest.approx(BASE_LR * rate ** (7 - 5))
    else:
        assert lr['backbone.stages.2.7.pwconv1.weight'] == pytest.approx(BASE_LR * rate ** (7 - 3))
    assert lr['neck.weight'] == pytest.approx(BASE_LR)
    assert group_of[id(names['backbone.stages.1.0.gamma'])]['weight_decay'] == 0.0


# The release's layer id for the classifier's layer-wise decay, transcribed from facebookresearch/ConvNeXt
# optim_factory.py (get_num_layer_for_convnext, 12 layers): names without the "backbone." prefix.
def release_layer_id(var_name: str, num_layers: int = 12) -> int:
    if var_name.startswith('downsample_layers'):
        stage_id = int(var_name.split('.')[1])
        return {0: 0, 1: 2, 2: 3, 3: num_layers}[stage_id]
    if var_name.startswith('stages'):
        stage_id, block_id = int(var_name.split('.')[1]), int(var_name.split('.')[2])
        return {0: 1, 1: 2, 2: 3 + block_id // 3, 3: num_layers}[stage_id]
    return num_layers + 1


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_classifier_layer_wise_ids_are_the_releases_for_every_parameter(arch):
    """The classifier's constructor takes mmdet's get_layer_id_for_convnext: the release's id for every
    parameter of the real T/S/B classifiers (built on the meta device: names and shapes only)."""
    import torch
    from mmengine.optim import build_optim_wrapper

    from convnext_dense.models import ConvNeXtClassifier

    with torch.device('meta'):
        model = ConvNeXtClassifier(dict(type='ConvNeXt', arch=arch), num_classes=1000)
    wrapper = build_optim_wrapper(
        model,
        dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=BASE_LR, weight_decay=WD),
            constructor='ClsLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(decay_rate=0.8, decay_type='layer_wise', num_layers=12),
        ),
    )
    layer_of = {name: g['layer_id'] for g in wrapper.optimizer.param_groups for name in g['param_names']}
    names = [name for name, _ in model.named_parameters()]
    assert sorted(layer_of) == sorted(names) and len(names) > 100
    for name in names:
        short = name[len('backbone.') :] if name.startswith('backbone.') else name
        assert layer_of[name] == release_layer_id(short), name
    assert {layer_of['head.fc.weight'], layer_of['backbone.downsample_layers.0.0.weight']} == {13, 0}
