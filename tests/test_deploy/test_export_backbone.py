"""The backbone alone and the classifier: onnxruntime's features and logits are PyTorch's to 1e-4 (relative)."""

import onnx
import pytest
import torch
from deploy_models import random_checkpoint, random_image, tiny_config

from convnext_dense.deploy import create_session, export_onnx, load_onnx_model, read_metadata
from convnext_dense.deploy.compare import relative_error
from convnext_dense.deploy.export import build_model, half_with_fp32_norms, load_model_checkpoint

V2 = {'model.backbone.arch': dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64], grn=True)}


def _pytorch(cfg, ckpt):
    model = build_model(cfg)
    load_model_checkpoint(model, ckpt)
    return model


@pytest.mark.parametrize('version', ['v1', 'v2'])
def test_backbone_features_match_the_unfused_pytorch_backbone(exported, version):
    cfg, ckpt, path = exported('cascade', part='backbone', **(V2 if version == 'v2' else {}))
    meta = read_metadata(path)
    assert meta['task'] == 'backbone' and meta['fused'] and meta['out_strides'] == [4, 8, 16, 32]
    backbone = _pytorch(cfg, ckpt).backbone  # the training form: the file holds the folded one
    session = create_session(path)
    for shape in [(1, 3, 64, 96), (2, 3, 61, 45)]:  # dynamic batch and size, also sizes 32 does not divide
        x = torch.randn(shape)
        with torch.no_grad():
            expected = backbone(x)
        outputs = session.run(None, {'input': x.numpy()})
        assert [o.shape for o in outputs] == [tuple(e.shape) for e in expected]
        for out, ref in zip(outputs, expected):
            assert relative_error(out, ref) < 1e-4


def test_the_file_holds_the_fused_form_unless_asked(tmp_path):
    cfg = tiny_config('classifier')
    ckpt = random_checkpoint(cfg, tmp_path / 'model.pth')
    muls, weights = {}, {}
    for fuse in (True, False):
        path = str(tmp_path / f'fuse{fuse}.onnx')
        assert export_onnx(cfg, ckpt, path, part='backbone', fuse=fuse)['fused'] is fuse
        graph = onnx.load(path).graph
        muls[fuse] = sum(n.op_type == 'Mul' for n in graph.node)
        weights[fuse] = len(graph.initializer)
    blocks = sum(cfg.model.backbone.arch['depths'])
    assert muls[False] - muls[True] == blocks  # the layer scale's multiply, folded into pwconv2
    assert weights[True] < weights[False]  # and the LayerNorms' affine parameters, folded away


def test_classifier_logits_and_scores_match_pytorch(exported):
    cfg, ckpt, path = exported('classifier')
    model = _pytorch(cfg, ckpt)
    onnx_model = load_onnx_model(path)
    images = [random_image(64, 64, seed) for seed in range(3)]  # RGB uint8, as the image-folder dataset gives
    with torch.no_grad():
        expected = model.test_step(dict(inputs=images, data_samples=None))
    got = onnx_model.test_step(dict(inputs=images, data_samples=None))
    for e, g in zip(expected, got):
        assert relative_error(g.pred_score, e.pred_score) < 1e-4 and g.pred_label == e.pred_label
    x = torch.stack(images).float()
    with torch.no_grad():
        logits = model(model.data_preprocessor(dict(inputs=images), False)['inputs'], mode='tensor')
    assert relative_error(onnx_model.run(x.numpy())[0], logits) < 1e-4
    assert onnx_model.run(torch.rand(2, 3, 96, 80).numpy() * 255)[0].shape == (2, 13)  # any batch and size


def _float_inputs(model_proto, op_type):
    """For each ``op_type`` node, whether its first input is float32 (after ONNX shape inference)."""
    inferred = onnx.shape_inference.infer_shapes(model_proto)
    types = {v.name: v.type.tensor_type.elem_type for v in list(inferred.graph.value_info) + list(inferred.graph.input)}
    return [types.get(n.input[0]) == onnx.TensorProto.FLOAT for n in inferred.graph.node if n.op_type == op_type]


@pytest.mark.parametrize('version', ['v1', 'v2'])
def test_fp16_export_keeps_the_normalisations_in_fp32(tmp_path, version):
    cfg = tiny_config('classifier', **(V2 if version == 'v2' else {}))
    ckpt = random_checkpoint(cfg, tmp_path / 'model.pth')
    path = str(tmp_path / 'fp16.onnx')
    assert export_onnx(cfg, ckpt, path, fp16=True)['fp16']
    proto = onnx.load(path)
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in proto.graph.initializer)  # fp16 layers
    layer_norms = _float_inputs(proto, 'LayerNormalization')
    assert layer_norms and all(layer_norms)  # every LayerNorm normalises float32
    if version == 'v2':  # GRN's sum of squares: the L2 norm's square input is float32
        assert any(_float_inputs(proto, 'ReduceL2')) or any(_float_inputs(proto, 'ReduceSumSquare'))
    # large activations, where a float16 variance (sum of squares > 65504) would overflow
    state = torch.load(ckpt, weights_only=True)
    state['state_dict']['backbone.downsample_layers.0.0.weight'] *= 300
    torch.save(state, ckpt)
    export_onnx(cfg, ckpt, path, fp16=True)
    model = _pytorch(cfg, ckpt)
    image = random_image(64, 64)
    with torch.no_grad():
        expected = model.test_step(dict(inputs=[image], data_samples=None))[0].pred_score
    got = load_onnx_model(path).test_step(dict(inputs=[image], data_samples=None))[0].pred_score
    assert torch.isfinite(got).all() and relative_error(got, expected) < 2e-2


def test_half_with_fp32_norms_keeps_norm_parameters_unrounded_and_their_maths_in_fp32():
    from convnext_dense.models import ConvNeXt

    torch.manual_seed(0)
    model = torch.nn.ModuleDict(
        dict(
            backbone=ConvNeXt(dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64], grn=True), out_indices=(3,)),
            gn=torch.nn.GroupNorm(4, 64),
            ln=torch.nn.LayerNorm(64),
            bn=torch.nn.BatchNorm2d(64),
        )
    ).eval()
    for p in model.parameters():
        p.data.normal_(0, 1.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    half_with_fp32_norms(model)
    state = model.state_dict()
    kept = [
        k
        for k in state
        if k.startswith(('gn.', 'ln.')) or '.norm.' in k or '.grn.' in k or k.startswith('backbone.norm')
    ]
    assert kept and all(state[k].dtype == torch.float32 and torch.equal(state[k], before[k]) for k in kept)
    assert (
        state['backbone.stages.0.0.pwconv1.weight'].dtype == torch.float16 and state['bn.weight'].dtype == torch.float16
    )
    x = torch.randn(1, 64, 4, 4).half() * 1000  # a float16 sum of squares would overflow
    for name in ('gn', 'ln'):
        y = model[name](x.permute(0, 2, 3, 1) if name == 'ln' else x)
        assert y.dtype == torch.float16 and torch.isfinite(y).all()


def test_a_compiled_config_exports_its_eager_forward(tmp_path):
    cfg = tiny_config('classifier', **{'model.backbone.compile': True})
    meta = export_onnx(cfg, random_checkpoint(cfg, tmp_path / 'model.pth'), str(tmp_path / 'm.onnx'))
    assert meta['verified']['max_rel_err'] < 1e-4
