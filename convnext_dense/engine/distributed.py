"""Multi-process training and testing on machines without a GPU (gloo), for ``tools/dist_*.sh`` and SLURM.

mmengine 0.10.7 assumes CUDA on its distributed path, in three places:

* ``mmengine.dist.init_dist`` calls ``torch.cuda.set_device(local_rank)`` for the pytorch, slurm and
  mpi launchers before it creates the process group, whatever the backend: without a GPU every
  process dies with "Found no NVIDIA driver on your system".
* ``Runner.wrap_model`` gives ``DistributedDataParallel`` ``device_ids=[LOCAL_RANK]``, which DDP
  rejects for a module on the CPU.
* ``torch.nn.SyncBatchNorm`` (``type='SyncBN'`` in the cascade heads and in UperNet) raises
  "SyncBatchNorm expected input tensor to be on GPU" for CPU tensors once a process group exists.

:func:`setup_distributed` handles the three when a launcher is used and no CUDA device is visible:
it creates the gloo process group itself (``Runner.setup_env`` only calls ``init_dist`` when
``torch.distributed`` is not initialised yet), and selects :class:`CPUDistributedDataParallel`,
which wraps the model without ``device_ids`` and replaces every SyncBN layer with
:class:`CPUSyncBatchNorm`: the same batch statistics over all processes (the sums are all-reduced
over gloo, with gradients), so a CPU run keeps the semantics of the GPU recipe. With CUDA nothing
changes: mmengine's own path (NCCL, ``torch.nn.SyncBatchNorm``).
"""

import datetime
import logging
import os
import subprocess

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..errors import ConfigError, DeviceError

__all__ = [
    'CPUDistributedDataParallel',
    'CPUSyncBatchNorm',
    'convert_to_cpu_sync_batchnorm',
    'init_cpu_process_group',
    'setup_distributed',
]

_DDP_TYPES = ('MMDistributedDataParallel', 'CPUDistributedDataParallel')


def setup_distributed(cfg):
    """Prepare ``cfg`` (and the process group) for a multi-process run without CUDA.

    Does nothing when ``cfg.launcher`` is ``'none'`` or a CUDA device is visible. Otherwise it
    initialises ``torch.distributed`` with the gloo backend from the launcher's environment
    (:func:`init_cpu_process_group`), records ``env_cfg.dist_cfg.backend='gloo'`` and makes the
    Runner wrap the model with :class:`CPUDistributedDataParallel`.

    Args:
        cfg (mmengine.Config): the config after the command-line options; ``cfg.launcher`` is one of
            ``'none'``, ``'pytorch'``, ``'slurm'``, ``'mpi'``.

    Returns:
        mmengine.Config: ``cfg``, changed in place.

    Raises:
        ConfigError: the config asks for a model wrapper other than DDP, which has no CPU version here.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return cfg
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        print_log(
            f'no CUDA device is visible: the {launcher!r} launcher uses the gloo backend instead of '
            f'{dist_cfg.get("backend", "nccl")!r}',
            logger='current',
            level=logging.INFO,
        )
    dist_cfg['backend'] = 'gloo'
    if not dist.is_initialized():
        init_cpu_process_group(launcher, dist_cfg)

    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(
            type='CPUDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False),
        )
    elif wrapper.get('type', 'MMDistributedDataParallel') in _DDP_TYPES:
        wrapper['type'] = 'CPUDistributedDataParallel'
    else:
        raise ConfigError(
            f'model_wrapper_cfg.type={wrapper["type"]!r} has no CPU version; without a GPU '
            f'multi-process runs use DistributedDataParallel. Remove model_wrapper_cfg from the '
            f'config or run on GPUs.'
        )
    return cfg


def init_cpu_process_group(launcher, dist_cfg=None):
    """Create the default process group with gloo, without touching CUDA.

    The environment is read as mmengine's ``init_dist`` reads it: ``RANK``/``WORLD_SIZE``/
    ``MASTER_ADDR``/``MASTER_PORT`` from torchrun (``pytorch``), ``SLURM_*`` (``slurm``: the first
    host of ``SLURM_NODELIST`` is the master unless ``MASTER_ADDR`` is set; the port is
    ``dist_cfg['port']``, else ``MASTER_PORT``, else 29500) or ``OMPI_COMM_WORLD_*`` (``mpi``).

    Args:
        launcher (str): ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        dist_cfg (dict, optional): ``env_cfg.dist_cfg``; ``timeout`` (seconds) and ``port`` are used,
            other keys except ``backend`` go to ``torch.distributed.init_process_group``.

    Raises:
        ConfigError: an unknown launcher.
        DeviceError: a variable the launcher should have set is missing.
    """
    kwargs = {k: v for k, v in dict(dist_cfg or {}).items() if k not in ('backend', 'port', 'init_backend')}
    if kwargs.get('timeout') is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
    if launcher == 'pytorch':
        _require_env(
            ['RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'],
            launcher,
            'start the processes with tools/dist_train.sh / tools/dist_test.sh (torchrun)',
        )
        os.environ.setdefault('LOCAL_RANK', os.environ['RANK'])
    elif launcher == 'slurm':
        _require_env(
            ['SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'],
            launcher,
            'start the processes with srun (tools/slurm_train.sh / tools/slurm_test.sh)',
        )
        if 'MASTER_ADDR' not in os.environ:
            node_list = os.environ['SLURM_NODELIST']
            os.environ['MASTER_ADDR'] = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
        port = (dist_cfg or {}).get('port')
        if port is not None:
            os.environ['MASTER_PORT'] = str(port)
        os.environ.setdefault('MASTER_PORT', '29500')
        os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
        os.environ['RANK'] = os.environ['SLURM_PROCID']
        os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', os.environ['SLURM_PROCID'])
    elif launcher == 'mpi':
        _require_env(
            ['OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_RANK', 'MASTER_ADDR'],
            launcher,
            'start the processes with mpirun and export MASTER_ADDR',
        )
        os.environ.setdefault('MASTER_PORT', '29500')
        os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
        os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
        os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']
    else:
        raise ConfigError(f'launcher {launcher!r} is not one of pytorch, slurm, mpi')
    dist.init_process_group(backend='gloo', init_method='env://', **kwargs)


def _require_env(names, launcher, fix):
    missing = [n for n in names if n not in os.environ]
    if missing:
        raise DeviceError(
            f'--launcher {launcher} needs the environment variables {missing}, which are not set; ' f'{fix}.'
        )


class CPUSyncBatchNorm(_BatchNorm):
    """SyncBN for CPU tensors over any backend (gloo): the statistics of the global batch.

    In training with a process group of several processes, the per-channel mean and variance are
    those of the whole global batch: the sums (in float64) are all-reduced with
    ``torch.distributed.nn.functional.all_reduce``, whose backward all-reduces the gradients, so
    the gradient is that of one BatchNorm over the concatenated batch. The running statistics are
    updated as ``torch.nn.BatchNorm`` does (unbiased variance of the global batch), identically on
    every process. In evaluation or in a single process it is BatchNorm. Parameter and buffer names
    are those of ``torch.nn.SyncBatchNorm``, so checkpoints move between the two. It does not
    subclass ``torch.nn.SyncBatchNorm``: DistributedDataParallel refuses those on CPU modules.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, process_group=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.process_group = process_group

    def _check_input_dim(self, input):  # noqa: A002 (torch's name)
        if input.dim() < 2:
            raise ValueError(f'expected at least 2D input (got {input.dim()}D input)')

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 (torch's name)
        group = self.process_group or dist.group.WORLD
        if not (
            self.training
            and input.device.type == 'cpu'
            and dist.is_available()
            and dist.is_initialized()
            and dist.get_world_size(group) > 1
        ):
            return super().forward(input)
        self._check_input_dim(input)
        if input.size(1) == 0:
            raise ValueError('CPUSyncBatchNorm number of input channels should be non-zero')
        c = input.shape[1]
        dims = [0, *range(2, input.dim())]
        shape = (1, c) + (1,) * (input.dim() - 2)
        count = torch.full((1,), input.numel() // c, dtype=torch.float64)
        sums = dist_fn.all_reduce(torch.cat([input.sum(dims).double(), count]), group=group)
        n = sums[c]
        mean = (sums[:c] / n.clamp(min=1)).to(input.dtype)
        centred = input - mean.view(shape)
        square_sums = dist_fn.all_reduce((centred * centred).sum(dims).double(), group=group)
        var = (square_sums / n.clamp(min=1)).to(input.dtype)
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                total = float(n)
                unbiased = var * (total / (total - 1)) if total > 1 else var
                self.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
                self.running_var.mul_(1 - factor).add_(unbiased.detach(), alpha=factor)
        return out


def _sync_bn_types():
    types = [nn.SyncBatchNorm]
    try:
        from mmcv.ops import SyncBatchNorm as MMCVSyncBatchNorm

        types.append(MMCVSyncBatchNorm)
    except ImportError:  # mmcv without ops: no MMSyncBN layers can exist
        pass
    return tuple(types)


def convert_to_cpu_sync_batchnorm(module: nn.Module):
    """Replace every ``torch.nn.SyncBatchNorm`` and mmcv ``SyncBatchNorm`` in ``module`` by :class:`CPUSyncBatchNorm`.

    Weights, buffers, ``requires_grad`` and the train/eval mode are kept.

    Args:
        module (nn.Module): the model (changed in place where possible).

    Returns:
        tuple[nn.Module, int]: the model and the number of layers replaced.
    """
    if isinstance(module, _sync_bn_types()):
        new = CPUSyncBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            process_group=getattr(module, 'process_group', None),
        )
        new.load_state_dict(module.state_dict())
        if module.affine:
            new.weight.requires_grad_(module.weight.requires_grad)
            new.bias.requires_grad_(module.bias.requires_grad)
        new.train(module.training)
        return new, 1
    count = 0
    for name, child in list(module.named_children()):
        new_child, n = convert_to_cpu_sync_batchnorm(child)
        if new_child is not child:
            module.add_module(name, new_child)
        count += n
    return module, count


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for modules on the CPU: no ``device_ids``, SyncBN over gloo.

    ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]``, which DDP rejects for a CPU module;
    it is dropped here. SyncBN layers become :class:`CPUSyncBatchNorm` before wrapping.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        module, converted = convert_to_cpu_sync_batchnorm(module)
        if converted:
            print_log(
                f'{converted} SyncBN layers: torch.nn.SyncBatchNorm only synchronises CUDA tensors, so '
                f'on the CPU they are CPUSyncBatchNorm (the same global-batch statistics, all-reduced over '
                f'gloo; same weights and buffers)',
                logger='current',
                level=logging.INFO,
            )
        super().__init__(module=module, device_ids=None, **kwargs)
