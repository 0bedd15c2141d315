"""CPU multi-process support: SyncBN over gloo equals one BatchNorm over the whole batch; config set-up."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config
from torch import nn

from convnext_dense.engine.distributed import (
    CPUDistributedDataParallel,
    CPUSyncBatchNorm,
    convert_to_cpu_sync_batchnorm,
    setup_distributed,
)

SIZES = (3, 1)  # uneven per-process batches: the statistics must weigh processes by their sample count
DIMS = ((5, 6), ())  # NCHW and NC inputs


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _data(dims):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(sum(SIZES), 4, *dims, generator=g) * 3 + 2
    target = torch.randn(x.shape, generator=g)
    weight, bias = torch.rand(4, generator=g) + 0.5, torch.randn(4, generator=g)
    return x, target, weight, bias


def _make(bn_cls, weight, bias):
    bn = bn_cls(4, momentum=0.3)
    with torch.no_grad():
        bn.weight.copy_(weight)
        bn.bias.copy_(bias)
    return bn.train()


def _worker(rank, port, queue):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=len(SIZES))
    start = sum(SIZES[:rank])
    for dims in DIMS:
        x, target, weight, bias = _data(dims)
        x_local = x[start : start + SIZES[rank]].clone().requires_grad_()
        bn = _make(CPUSyncBatchNorm, weight, bias)
        out = bn(x_local)
        (out * target[start : start + SIZES[rank]]).sum().backward()
        bn(x_local)  # a second step: running statistics accumulate
        # numpy copies: tensors in a queue would live in shared memory that dies with the process
        queue.put(
            (
                rank,
                dims,
                [
                    t.detach().numpy().copy()
                    for t in (out, x_local.grad, bn.weight.grad, bn.bias.grad, bn.running_mean, bn.running_var)
                ],
                int(bn.num_batches_tracked),
            )
        )
    dist.barrier()
    # Leave without running gloo's C++ destructors: at interpreter exit they sometimes abort ("terminate
    # called without an active exception", SIGABRT) after all the work is done. The results are flushed first.
    queue.close()
    queue.join_thread()
    os._exit(0)


@pytest.mark.e2e  # two processes over gloo
def test_cpu_sync_bn_over_two_processes_equals_batchnorm_over_the_whole_batch():
    queue = mp.get_context('spawn').Queue()
    mp.start_processes(_worker, args=(_free_port(), queue), nprocs=len(SIZES), start_method='spawn')
    got = {}
    for _ in range(len(SIZES) * len(DIMS)):
        rank, dims, arrays, steps = queue.get()
        got[rank, dims] = [torch.from_numpy(a) for a in arrays] + [steps]
    for dims in DIMS:
        x, target, weight, bias = _data(dims)
        x = x.clone().requires_grad_()
        ref = _make(nn.BatchNorm2d if dims else nn.BatchNorm1d, weight, bias)
        out = ref(x)
        (out * target).sum().backward()
        ref(x)
        for rank in range(len(SIZES)):
            r_out, r_xgrad, _, _, r_mean, r_var, r_steps = got[rank, dims]
            sl = slice(sum(SIZES[:rank]), sum(SIZES[: rank + 1]))
            torch.testing.assert_close(r_out, out.detach()[sl], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(r_xgrad, x.grad[sl], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(r_mean, ref.running_mean, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(r_var, ref.running_var, rtol=1e-5, atol=1e-6)
            assert r_steps == 2
        # each process holds the gradient of its own loss; DDP sums (averages) them: the sum is BN's gradient
        torch.testing.assert_close(got[0, dims][2] + got[1, dims][2], ref.weight.grad, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(got[0, dims][3] + got[1, dims][3], ref.bias.grad, rtol=1e-4, atol=1e-5)


def test_convert_keeps_weights_buffers_and_frozen_flags():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 1), nn.SyncBatchNorm(4), nn.Sequential(nn.SyncBatchNorm(4)), nn.BatchNorm2d(4)
    )
    with torch.no_grad():
        model[1].running_mean.uniform_()
        model[1].weight.uniform_()
    model[2][0].weight.requires_grad_(False)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    converted, n = convert_to_cpu_sync_batchnorm(model)
    assert n == 2
    assert isinstance(converted[1], CPUSyncBatchNorm) and isinstance(converted[2][0], CPUSyncBatchNorm)
    assert type(converted[3]) is nn.BatchNorm2d  # plain BN stays plain
    assert not converted[2][0].weight.requires_grad and not converted[1].training
    after = converted.state_dict()
    assert sorted(after) == sorted(before) and all(torch.equal(after[k], before[k]) for k in before)


def test_cpu_sync_bn_without_process_group_is_batchnorm():
    x = torch.randn(4, 3, 5, 5)
    bn, ref = CPUSyncBatchNorm(3), nn.BatchNorm2d(3)
    torch.testing.assert_close(bn(x), ref(x))
    torch.testing.assert_close(bn.running_var, ref.running_var)


def test_setup_distributed_changes_nothing_without_a_launcher():
    cfg = Config(dict(launcher='none', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    setup_distributed(cfg)
    assert 'model_wrapper_cfg' not in cfg and cfg.env_cfg.dist_cfg.backend == 'nccl'


@pytest.mark.skipif(torch.cuda.is_available(), reason='with CUDA mmengine initialises NCCL itself')
def test_setup_distributed_on_cpu_uses_gloo_and_the_cpu_wrapper(monkeypatch):
    port = _free_port()
    for k, v in dict(RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port)).items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    cfg = Config(dict(launcher='pytorch', env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60))))
    try:
        setup_distributed(cfg)
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
        assert os.environ['LOCAL_RANK'] == '0'
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg.type == 'CPUDistributedDataParallel'
        model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.SyncBatchNorm(4))
        wrapped = CPUDistributedDataParallel(model, device_ids=[0])  # what Runner.wrap_model passes
        assert wrapped.device_ids is None and isinstance(wrapped.module[1], CPUSyncBatchNorm)
        with pytest.raises(ValueError, match='model_wrapper_cfg.type'):
            fsdp = dict(type='MMFullyShardedDataParallel')
            setup_distributed(Config(dict(launcher='pytorch', model_wrapper_cfg=fsdp)))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
