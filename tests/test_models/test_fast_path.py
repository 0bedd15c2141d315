"""ConvNeXt's fast modes give the default's outputs: channels-last, oneDNN kernels, fuse()/deploy,
torch.compile (no graph breaks), bf16/fp16 with float32 normalisations, activation checkpointing modes."""

import math

import pytest
import torch
from timm.layers import LayerNormFp32

from convnext_dense.models import ConvNeXt
from convnext_dense.models.convnext import _ONEDNN, GRN, ConvNeXtBlock, onednn_linear, onednn_linear_add
from convnext_dense.models.state_dict import fuse_state_dict

V1 = dict(depths=(1, 1, 2, 1), dims=(8, 16, 32, 64))
V2 = dict(V1, grn=True)
RTOL = 1e-4  # fp32: largest |a - b| over largest |b|


def randomised(arch=V1, seed=0, **kwargs):
    """A model whose every parameter is random (layer scales, GRN and norm affines too)."""
    net = ConvNeXt(arch, layer_scale_init_value=1.0, **kwargs)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            one = name.endswith('weight') and p.dim() == 1 and 'norm' in name
            p.copy_(torch.randn(p.shape, generator=g) * (0.3 if p.dim() == 1 else 0.1) + (1.0 if one else 0.0))
    return net.eval()


def twin(net, **kwargs):
    """The same weights in another mode."""
    other = ConvNeXt(net.arch, layer_scale_init_value=1.0, **kwargs).eval()
    other.load_state_dict(net.state_dict())
    return other


def rel_err(outs, refs):
    return max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(outs, refs))


def run(net, x):
    with torch.no_grad():
        return net(x)


X = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize('arch', [V1, V2])
def test_default_fast_path_equals_the_released_block_formulation(arch):
    """Default (channels-last + oneDNN kernels) vs the block as released (NCHW, plain ops)."""
    ref = randomised(arch, channels_last=False, onednn=False)
    for kwargs in (dict(), dict(onednn=False), dict(channels_last=False)):
        fast = twin(ref, **kwargs)
        outs = run(fast, X)
        assert rel_err(outs, run(ref, X)) < RTOL, kwargs
        assert all(o.is_contiguous() for o in outs), 'default outputs must stay NCHW-contiguous (mmcv RoIAlign)'


def test_onednn_path_is_taken_in_inference_and_not_with_gradients(monkeypatch):
    calls = []
    real = ConvNeXtBlock._forward_onednn

    def spy(self, *args):
        calls.append(1)
        return real(self, *args)

    monkeypatch.setattr(ConvNeXtBlock, '_forward_onednn', spy)
    net = randomised()
    run(net, X)
    if torch.backends.mkldnn.is_available():
        assert len(calls) == 5  # every block
    calls.clear()
    net(X)[0].sum().backward()  # gradients: plain autograd ops
    assert calls == []


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason='a torch build without oneDNN (mkldnn)')
@pytest.mark.parametrize('gelu', [True, False])
def test_onednn_ops_take_the_arguments_the_block_gives_them(gelu):
    """torch.ops.mkldnn._linear_pointwise is private: its signature may change in any torch release. Called
    exactly as ConvNeXtBlock calls it (NHWC activations, a contiguous NHWC residual) against plain torch."""
    where = f'torch {torch.__version__}'
    assert _ONEDNN, f'{where} has oneDNN but no torch.ops.mkldnn._linear_pointwise: the fast path is off'
    g = torch.Generator().manual_seed(0)
    x, shortcut = torch.randn(2, 5, 7, 16, generator=g), torch.randn(2, 5, 7, 8, generator=g)
    w1, b1 = torch.randn(32, 16, generator=g), torch.randn(32, generator=g)
    w2, b2 = torch.randn(8, 32, generator=g), torch.randn(8, generator=g)
    with torch.no_grad():
        try:
            h = onednn_linear(x, w1, b1, gelu)
        except (RuntimeError, TypeError) as e:
            pytest.fail(f'torch.ops.mkldnn._linear_pointwise(x, w, b, attr, scalars, algorithm) fails on {where}: {e}')
        try:
            out = onednn_linear_add(h, shortcut, w2, b2)
        except (RuntimeError, TypeError) as e:
            pytest.fail(f'torch.ops.mkldnn._linear_pointwise.binary(x, other, w, b, "add") fails on {where}: {e}')
        plain = torch.nn.functional.linear(x, w1, b1)
        expected_h = torch.nn.functional.gelu(plain) if gelu else plain
        expected = torch.nn.functional.linear(expected_h, w2, b2) + shortcut
    what = '_linear_pointwise with gelu' if gelu else '_linear_pointwise'
    torch.testing.assert_close(h, expected_h, rtol=1e-4, atol=1e-4, msg=lambda m: f'{what} on {where}: {m}')
    torch.testing.assert_close(
        out, expected, rtol=1e-4, atol=1e-3, msg=lambda m: f'_linear_pointwise.binary add on {where}: {m}'
    )


def test_contiguous_outputs_false_keeps_channels_last():
    net = randomised(contiguous_outputs=False)
    outs = run(net, X)
    assert all(o.is_contiguous(memory_format=torch.channels_last) for o in outs)
    assert rel_err(outs, run(twin(net), X)) == 0


@pytest.mark.parametrize('arch', [V1, V2])
def test_fuse_equals_unfused_and_drops_the_folded_parameters(arch):
    net = randomised(arch)
    ref = run(net, X)
    names = set(net.state_dict())
    fused = twin(net).fuse()
    assert rel_err(run(fused, X), ref) < RTOL
    folded = {
        k
        for k in names
        if k.endswith('.gamma')
        or k.endswith('.grn.bias')
        or (k.startswith('stages.') and '.norm.' in k)
        or (k.startswith('downsample_layers.') and not k.startswith('downsample_layers.0.') and '.0.' in k)
    }
    assert folded and set(fused.state_dict()) == names - folded  # everything else keeps its name
    # train-mode forward with gradients (no oneDNN path) agrees too
    assert rel_err(fused.train()(X), net.train()(X)) < RTOL


def test_fused_checkpoint_round_trip_and_unfused_checkpoints_fold_on_load(tmp_path):
    net = randomised(V2, seed=1)
    ref = run(net, X)
    path = tmp_path / 'fused.pth'
    torch.save(twin(net).fuse().state_dict(), path)
    deploy = ConvNeXt(V2, deploy=True).eval()
    deploy.load_state_dict(torch.load(path))
    assert rel_err(run(deploy, X), ref) < RTOL
    from_unfused = ConvNeXt(V2, deploy=True).eval()
    from_unfused.load_state_dict(net.state_dict())  # folded by the pre-hook
    assert rel_err(run(from_unfused, X), ref) < RTOL
    with pytest.raises(RuntimeError, match='Missing key'):
        ConvNeXt(V2).load_state_dict(torch.load(path))  # a fused file needs deploy=True


def test_fuse_state_dict_with_a_prefix_folds_a_detector_checkpoint():
    net = randomised()
    state = {'backbone.' + k: v.clone() for k, v in net.state_dict().items()}
    state['neck.weight'] = torch.ones(1)
    fuse_state_dict(state, 'backbone.')
    assert 'neck.weight' in state and not any(k.endswith('.gamma') for k in state)
    deploy = ConvNeXt(V1, deploy=True).eval()
    deploy.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith('backbone.')})
    assert rel_err(run(deploy, X), run(net, X)) < RTOL


def test_no_graph_breaks_under_dynamo():
    net = randomised()
    explained = torch._dynamo.explain(net)(X)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


def test_compile_option_gives_equal_outputs_and_gradients():
    """``compile=dict(backend='aot_eager')`` traces forward and backward like inductor does, without
    the C++ compile time; the same code path as ``compile=True``."""
    net = randomised(drop_path_rate=0.0)
    compiled = twin(net, compile=dict(backend='aot_eager', fullgraph=True))
    assert rel_err(run(compiled, X), run(net, X)) < RTOL
    for model in (compiled, net):
        sum(o.square().mean() for o in model.train()(X)).backward()
    for (name, a), b in zip(net.named_parameters(), compiled.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize('arch', [V1, V2])
def test_bf16_autocast_is_close_to_fp32(arch):
    """bf16 keeps 8 bits of mantissa: outputs within 5 % of the largest fp32 value (measured ~1 %)."""
    net = randomised(arch)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        low = net(X)
    assert all(o.dtype == torch.float32 for o in low), 'the output LayerNorms run in fp32'
    assert rel_err([o.float() for o in low], run(net, X)) < 5e-2


def test_norms_compute_in_fp32_so_fp16_activations_do_not_overflow():
    """The authors' channels-first LayerNorm ((x - u)^2 in the input dtype) and a fp16 sum of squares
    overflow for activations of a few hundred; ours give the fp32 result."""
    x = torch.randn(2, 5, 7, 64) * 3000
    x[..., 0] = 60000.0
    ln = LayerNormFp32(64, eps=1e-6)
    half = ln(x.half())
    assert half.dtype == torch.float16 and torch.isfinite(half).all()
    assert torch.isinf((x.half() - x.half().mean(-1, keepdim=True)).pow(2).mean(-1)).any(), 'naive one overflows'
    torch.testing.assert_close(half.float(), ln(x), rtol=1e-2, atol=1e-2)
    grn = GRN(64)
    with torch.no_grad():
        grn.weight.fill_(0.1), grn.bias.fill_(0.1)
    x = torch.randn(2, 8, 8, 64) * 1000
    x[..., 0] = 10000.0
    assert torch.isinf(x.half().norm(p=2, dim=(1, 2))).any(), 'the fp16 norm overflows'
    assert grn(x).abs().max() < torch.finfo(torch.float16).max, 'the fp32 result fits fp16'
    out = grn(x.half())
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), grn(x), rtol=1e-2, atol=float(x.abs().max()) * 1e-3)


def test_half_model_on_cpu_keeps_finite_where_fp32_is_finite():
    net = randomised(V2)
    big = X * 200
    ref = run(net, big)
    assert all(torch.isfinite(o).all() for o in ref)
    try:
        outs = run(net.half(), big.half())
    except RuntimeError as err:  # a CPU build without fp16 kernels for some op
        pytest.skip(f'fp16 on this CPU: {err}')
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_cuda_autocast_large_activations_stay_finite_and_close(dtype):
    net = randomised(V2).cuda()
    big = (X * 200).cuda()
    ref = run(net, big)
    with torch.no_grad(), torch.autocast('cuda', dtype=dtype):
        outs = net(big)
    assert all(torch.isfinite(o).all() for o in outs)
    assert rel_err([o.float() for o in outs], ref) < (1e-2 if dtype == torch.float16 else 5e-2)


@pytest.mark.parametrize('with_cp', [True, 'block', 'stage', [0, 2], (-1,)])
def test_activation_checkpointing_modes_give_equal_gradients(with_cp):
    torch.manual_seed(0)
    plain = randomised(drop_path_rate=0.0).train()
    ckpt = twin(plain, with_cp=with_cp).train()
    for net in (plain, ckpt):
        sum(o.square().mean() for o in net(X)).backward()
    for (name, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-7, msg=name)


@pytest.mark.parametrize('with_cp', ['layer', [4], [True], 2.0])
def test_bad_with_cp_names_the_choices(with_cp):
    with pytest.raises(ValueError, match="with_cp=.* use False, True or 'block'"):
        ConvNeXt(V1, with_cp=with_cp)


def test_parameter_names_are_the_released_ones_in_every_mode():
    expected = set(ConvNeXt(V1, channels_last=False, onednn=False).state_dict())
    for kwargs in (dict(), dict(with_cp='stage'), dict(compile=True), dict(contiguous_outputs=False)):
        assert set(ConvNeXt(V1, **kwargs).state_dict()) == expected
    assert {
        'stages.3.0.dwconv.weight',
        'stages.3.0.pwconv2.weight',
        'stages.3.0.gamma',
        'norm3.weight',
        'downsample_layers.3.1.weight',
    } <= expected
    assert math.isclose(
        sum(p.numel() for p in ConvNeXt(V1).parameters()),
        sum(p.numel() for p in ConvNeXt(V1, channels_last=False).parameters()),
    )
