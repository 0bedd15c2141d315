"""ModernizedResNet, the paper's roadmap (Section 2, Appendix C): the GFLOPs of every step are Tables 10 and 11;
'resnet' is torchvision's and timm's ResNet-50 and 'separate_downsampling' the authors' ConvNeXt-T (their files load
strictly and give their features); every step runs forward and backward at full size and trains one iteration as
a classifier, a Mask R-CNN backbone and a UperNet backbone (in a small custom regime)."""

import copy
import os.path as osp

import pytest
import timm
import torch
import torchvision
from authors_layout import AuthorsConvNeXt
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS, init_default_scope
from mmengine.structures import BaseDataElement, PixelData
from timm_reference import randomise_
from torch.utils.flop_counter import FlopCounterMode

import convnext_dense  # noqa: F401  (registration)
from convnext_dense.errors import CheckpointError, ConfigError
from convnext_dense.models import ConvNeXt, ConvNeXtClassifier, ModernizedResNet
from convnext_dense.models.roadmap import resnet_to_roadmap, steps_fitting
from convnext_dense.models.roadmap_steps import PAPER_RESULTS, PARENTS, STEPS, resolve_step, step_path

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# A small regime (the form of REGIMES) for the training iterations: every step's structure, few channels.
TINY = dict(depths=(1, 1, 2, 1), width=8, stage_ratio=dict(depths=(1, 1, 3, 1)), wider=dict(width=12))


def _gflops(model, size=224, part=None, **kwargs):
    """Multiply-accumulates of convolutions and linear layers / 1e9 (torch's FLOP counter halved), on the meta device:
    of the whole model; with ``part``, ``(of the submodule part, of the whole model)`` from the same pass.

    Gradients stay enabled: ConvNeXt's oneDNN inference kernels, unknown to the counter, run only without them."""
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, size, size, device='meta'), **kwargs)
    whole = counter.get_total_flops() / 2e9
    if part is None:
        return whole
    return sum(counter.get_flop_counts()[f'{type(model).__name__}.{part}'].values()) / 2e9, whole


def _params(model, prefix=''):
    return sum(p.numel() for n, p in model.named_parameters() if n.startswith(prefix)) / 1e6


# ------------------------------------------------------------------------------------------------------- the table
def test_steps_are_the_papers_in_order():
    assert STEPS == (
        'resnet',
        'stage_ratio',
        'patchify_stem',
        'depthwise_conv',
        'wider',
        'inverted_bottleneck',
        'move_up_dwconv',
        'kernel_5',
        'kernel_7',
        'kernel_9',
        'kernel_11',
        'gelu',
        'fewer_activations',
        'fewer_norms',
        'layer_norm',
        'separate_downsampling',
    )
    assert {PARENTS[f'kernel_{k}'] for k in (5, 7, 9, 11)} == {'move_up_dwconv'} and PARENTS['gelu'] == 'kernel_7'
    assert 'kernel_5' not in step_path('separate_downsampling') and 'kernel_7' in step_path('separate_downsampling')
    assert [resolve_step(f'kernel_{k}').kernel_size for k in (5, 7, 9, 11)] == [5, 7, 9, 11]
    r200 = [resolve_step(s, 'resnet200') for s in ('resnet', 'stage_ratio', 'depthwise_conv', 'wider')]
    assert [(s.depths, s.width) for s in r200] == [
        ((3, 24, 36, 3), 64),
        ((3, 3, 27, 3), 84),
        ((3, 3, 27, 3), 84),
        ((3, 3, 27, 3), 128),
    ]
    assert set(PAPER_RESULTS['resnet50']) == set(PAPER_RESULTS['resnet200']) == set(STEPS)


@pytest.mark.parametrize(
    'kwargs, match',
    [
        (dict(step='kernel_3'), 'not a roadmap step'),
        (dict(step='gelu', regime='resnet101'), "regime='resnet101'"),
        (dict(step='gelu', regime=dict(depths=(1, 1), width=8)), 'custom regime'),
        (dict(step='gelu', out_indices=(4,)), 'out_indices'),
        (dict(step='gelu', frozen_stages=5), 'frozen_stages'),
    ],
)
def test_wrong_arguments_name_the_value_and_the_choices(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ModernizedResNet(**kwargs)


# -------------------------------------------------------------------------------------------------------- GFLOPs
# Table 10 prints two values that a count of the models does not give (docs/roadmap.md): BN -> LN changes no
# convolution (its count is the previous step's, 4.15; Figure 2 labels it 4.2), and the last step's count is
# ConvNeXt-T's own, 4.46 (Table 10's BN -> LN value), not the printed 4.49.
MISPRINTS = {('resnet50', 'layer_norm'): 4.15, ('resnet50', 'separate_downsampling'): 4.46}


@pytest.mark.parametrize('regime', ['resnet50', 'resnet200'])
def test_gflops_of_every_step_are_the_papers(regime):
    """The backbone's count is within 0.01 of the printed value; with the 1000-class classifier (the paper counts
    whole models: the counts then round to the printed values exactly)."""
    measured = {}
    for step in STEPS:
        with torch.device('meta'):
            classifier = ConvNeXtClassifier(dict(type='ModernizedResNet', step=step, regime=regime), num_classes=1000)
        measured[step] = _gflops(classifier, part='backbone', mode='tensor')  # (backbone, whole)
    for step, (body, whole) in measured.items():
        printed = PAPER_RESULTS[regime][step][2]
        expected = MISPRINTS.get((regime, step), printed)
        assert round(whole, 2) == expected, f'{step}: {whole:.4f} GFLOPs, the paper prints {printed}'
        assert abs(body - expected) <= 0.01, f'{step}: backbone {body:.4f} GFLOPs'
    if regime == 'resnet50':  # the misprints: what the two steps measure instead
        assert measured['layer_norm'] == measured['fewer_norms']
        with torch.device('meta'):
            convnext_t = ConvNeXt('tiny', out_norm=False)
        assert measured['separate_downsampling'][0] == pytest.approx(_gflops(convnext_t), abs=1e-9)


def test_parameters_of_the_two_ends():
    with torch.device('meta'):
        resnet50, last = ModernizedResNet('resnet', out_norm=False), ModernizedResNet('separate_downsampling')
        convnext_t = ConvNeXt('tiny')
    assert round(_params(resnet50), 1) == 23.5  # ResNet-50 without its classifier
    assert _params(last) == _params(convnext_t)


# --------------------------------------------------------------------------------------- the two ends of the path
def _randomise_resnet_(model, seed):
    """Random weights and BatchNorm statistics, scaled so that activations stay finite through 16 blocks."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.dtype.is_floating_point:
                continue
            noise = torch.randn(t.shape, generator=g)
            if name.endswith('running_var'):
                t.copy_(noise.abs() + 0.5)
            elif t.dim() == 1 and name.endswith('weight'):
                t.copy_(0.5 + 0.1 * noise)
            else:
                t.copy_(0.05 * noise)
    return model.eval()


def _torchvision_stages(net, x):
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    outs = []
    for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
        x = layer(x)
        outs.append(x)
    return outs


def _load(path, **kwargs):
    net = ModernizedResNet(out_norm=False, init_cfg=dict(type='Pretrained', checkpoint=str(path)), **kwargs)
    net.init_weights()
    return net.eval()


@pytest.mark.parametrize('source', ['torchvision', 'timm'])
def test_resnet_step_is_resnet50(tmp_path, source):
    if source == 'torchvision':
        reference = _randomise_resnet_(torchvision.models.resnet50(), seed=0)
    else:
        reference = _randomise_resnet_(timm.create_model('resnet50', pretrained=False), seed=1)
    torch.save(reference.state_dict(), tmp_path / 'resnet50.pth')
    net = _load(tmp_path / 'resnet50.pth', step='resnet')
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        if source == 'torchvision':
            expected = _torchvision_stages(reference, x)
        else:
            expected = reference.forward_intermediates(x, indices=[1, 2, 3, 4], intermediates_only=True)
        got = net(x)
    assert [tuple(f.shape) for f in got] == [(2, 256, 16, 24), (2, 512, 8, 12), (2, 1024, 4, 6), (2, 2048, 2, 3)]
    assert expected[-1].abs().max() > 1e-2
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_resnet200_regime_starts_at_timm_resnet200_and_ends_at_convnext_b():
    def shapes(sd):
        return {k: tuple(v.shape) for k, v in sd.items()}

    with torch.device('meta'):
        timm200 = timm.create_model('resnet200', pretrained=False)
        first = ModernizedResNet('resnet', 'resnet200', out_norm=False)
        last, convnext_b = ModernizedResNet('separate_downsampling', 'resnet200'), ConvNeXt('base')
    renamed = shapes(resnet_to_roadmap(timm200.state_dict()))
    assert shapes(first.state_dict()) == {k: v for k, v in renamed.items() if not k.startswith('head.')}
    assert shapes(last.state_dict()) == shapes(convnext_b.state_dict())


@pytest.mark.parametrize('dense', [False, True])
def test_last_step_is_convnext_t_and_loads_the_authors_files(tmp_path, dense):
    """The authors' classifier file (``norm``/``head`` unused) or dense backbone (output norms ``norm{i}``)."""
    authors = randomise_(AuthorsConvNeXt((3, 3, 9, 3), (96, 192, 384, 768), dense=dense), seed=2)
    torch.save({'model': authors.state_dict()}, tmp_path / 'convnext_t.pth')
    init_cfg = dict(type='Pretrained', checkpoint=str(tmp_path / 'convnext_t.pth'))
    ours = ModernizedResNet('separate_downsampling', out_norm=dense, init_cfg=init_cfg)
    reference = ConvNeXt('tiny', out_norm=dense, init_cfg=init_cfg)
    assert list(ours.state_dict()) == list(reference.state_dict())
    ours.init_weights()
    reference.init_weights()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        got, expected, authors_out = ours.eval()(x), reference.eval()(x), authors.stage_outputs(x)
    for a, b, c in zip(got, expected, authors_out):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(a, c, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------------ every step, full size
@pytest.mark.parametrize('step', STEPS)
def test_every_step_runs_forward_and_backward(step):
    torch.manual_seed(0)
    net = ModernizedResNet(step, drop_path_rate=0.1)  # torch's default init: the truncated normal takes seconds
    dims = resolve_step(step).dims
    assert net.out_channels == dims and net.out_strides == (4, 8, 16, 32)
    assert [f['module'] for f in net.feature_info] == ['stages.0', 'stages.1', 'stages.2', 'stages.3']
    outs = net.train()(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, c, 64 // s, 64 // s) for c, s in zip(dims, (4, 8, 16, 32))]
    assert all(o.is_contiguous() for o in outs)  # NCHW memory: mmcv's RoIAlign reads it raw
    sum(o.mean() for o in outs).backward()
    stem = net.downsample_layers[0][0].weight
    assert stem.grad is not None and stem.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.parameters()), 'a parameter takes no part in the forward pass'


def test_out_indices_frozen_stages_and_norm_eval():
    net = ModernizedResNet('gelu', out_indices=(-3,), frozen_stages=1, norm_eval=True)
    assert net.out_indices == (1,) and len(net.stages) == 2 and net.out_channels == (192,)
    net.train()
    frozen = [n for n, p in net.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith(('downsample_layers.0.', 'stages.0.')) for n in frozen)
    assert not any(n.startswith('stages.1.') for n in frozen)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)


def test_layer_scale_default_follows_the_step():
    def has_gamma(step, **kwargs):
        with torch.device('meta'):
            return any(n.endswith('.gamma') for n, _ in ModernizedResNet(step, **kwargs).named_parameters())

    assert [s for s in STEPS if has_gamma(s)] == ['fewer_norms', 'layer_norm', 'separate_downsampling']
    assert has_gamma('resnet', layer_scale_init_value=1e-6) and not has_gamma('layer_norm', layer_scale_init_value=0)


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmengine'])
def test_builds_in_every_scope(scope):
    registry = dict(
        mmdet=lambda: __import__('mmdet.registry', fromlist=['MODELS']).MODELS,
        mmseg=lambda: __import__('mmseg.registry', fromlist=['MODELS']).MODELS,
        mmengine=lambda: MODELS,
    )[scope]()
    init_default_scope(scope)
    with torch.device('meta'):
        net = registry.build(dict(type='ModernizedResNet', step='kernel_9', regime='resnet200'))
    assert isinstance(net, ModernizedResNet) and net.spec.kernel_size == 9


def test_classifier_reads_the_last_stage():
    model = ConvNeXtClassifier(dict(type='ModernizedResNet', step='wider', regime=TINY), num_classes=3)
    assert model.backbone.out_indices == (3,) and model(torch.rand(2, 3, 32, 32), mode='tensor').shape == (2, 3)
    with pytest.raises(ValueError, match='last stage only'):
        ConvNeXtClassifier(dict(type='ModernizedResNet', step='wider', out_indices=(0, 1, 2, 3)), num_classes=3)


# ------------------------------------------------------------------------------------------------- checkpoints
def test_own_checkpoints_load_strictly_and_a_wrong_step_is_named(tmp_path):
    torch.manual_seed(0)
    classifier = ConvNeXtClassifier(dict(type='ModernizedResNet', step='gelu', regime=TINY), num_classes=3)
    path = tmp_path / 'gelu.pth'
    torch.save({'state_dict': classifier.state_dict(), 'meta': {}}, path)
    net = ModernizedResNet('fewer_activations', TINY, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    net.init_weights()  # the same weights as 'gelu' (they differ in activations only)
    for name, value in net.state_dict().items():
        if not name.startswith('norm'):
            torch.testing.assert_close(value, classifier.state_dict()['backbone.' + name])
    wrong = ModernizedResNet('fewer_norms', TINY, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(CheckpointError, match='fits no roadmap step'):  # a custom regime: no named regime fits
        wrong.init_weights()
    layer_scaled = ModernizedResNet('fewer_norms', TINY)  # gamma from this step on
    torch.save(layer_scaled.state_dict(), tmp_path / 'fewer_norms.pth')
    truncated = ModernizedResNet('fewer_norms', TINY, out_indices=(1,))  # fits the stages it has
    truncated.load_checkpoint(str(tmp_path / 'fewer_norms.pth'))
    with pytest.raises(CheckpointError, match=r'backbone weights the model lacks: stages\.0\.0\.gamma'):
        ModernizedResNet('fewer_norms', TINY, layer_scale_init_value=0).load_checkpoint(
            str(tmp_path / 'fewer_norms.pth')
        )
    with torch.device('meta'):
        full = ModernizedResNet('gelu', out_norm=False).state_dict()
    assert steps_fitting(full) == [('resnet50', 'kernel_7'), ('resnet50', 'gelu'), ('resnet50', 'fewer_activations')]


def test_a_file_of_another_step_is_refused_with_the_steps_it_fits(tmp_path):
    torch.save(_randomise_resnet_(torchvision.models.resnet50(), seed=3).state_dict(), tmp_path / 'r50.pth')
    with pytest.raises(CheckpointError, match=r'it fits resnet50/resnet\); set model.backbone.step'):
        _load(tmp_path / 'r50.pth', step='stage_ratio')


# ------------------------------------------------------------------------ one training iteration in each task
def _cls_batch():
    samples = []
    for label in (0, 1):
        sample = BaseDataElement()
        sample.gt_label = torch.tensor(label)
        samples.append(sample)
    return dict(inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(2)], data_samples=samples)


def _det_batch():
    from mmdet.testing import demo_mm_inputs

    return demo_mm_inputs(batch_size=1, image_shapes=[(3, 64, 96)], num_items=[2], num_classes=5, with_mask=True)


def _seg_batch():
    from mmseg.structures import SegDataSample

    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(2):
        inputs.append(torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8, generator=g))
        sample = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, 64, 64), generator=g))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture(scope='module')
def demo_configs():
    det = Config.fromfile(osp.join(ROOT, 'configs', 'detection', 'demo', 'mask_rcnn_convnext_demo.py'))
    seg = Config.fromfile(osp.join(ROOT, 'configs', 'segmentation', 'demo', 'upernet_convnext_demo.py'))
    return dict(det=det.model, seg=seg.model)


def _build(task, step, demo_configs):
    """The task's model with the step's backbone (TINY regime): the classifier, or a demo config with the
    backbone swapped and the neck / heads reading its widths."""
    backbone = dict(type='ModernizedResNet', step=step, regime=TINY, drop_path_rate=0.1)
    dims = list(resolve_step(step, TINY).dims)
    if task == 'cls':
        init_default_scope('mmengine')
        return MODELS.build(dict(type='ConvNeXtClassifier', backbone=backbone, num_classes=2))
    model = copy.deepcopy(demo_configs[task])
    model.backbone = dict(backbone, norm_eval=True)  # as the roadmap's dense configs
    if task == 'det':
        from mmdet.registry import MODELS as REGISTRY

        model.neck.in_channels = dims
        init_default_scope('mmdet')
    else:
        from mmseg.registry import MODELS as REGISTRY

        model.decode_head.in_channels, model.auxiliary_head.in_channels = dims, dims[2]
        init_default_scope('mmseg')
    return revert_sync_batchnorm(REGISTRY.build(model))  # SyncBN needs a process group


@pytest.mark.parametrize('task', ['cls', 'det', 'seg'])
@pytest.mark.parametrize('step', STEPS)
def test_every_step_trains_one_iteration(task, step, demo_configs):
    torch.manual_seed(0)
    model = _build(task, step, demo_configs)
    model.init_weights()
    model.train()
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    stem = model.backbone.downsample_layers[0][0].weight
    before = stem.detach().clone()
    batch = dict(cls=_cls_batch, det=_det_batch, seg=_seg_batch)[task]()
    log_vars = model.train_step(batch, wrapper)
    assert torch.isfinite(log_vars['loss']) and log_vars['loss'] > 0
    assert not torch.equal(before, stem.detach()), 'the step did not reach the backbone'
