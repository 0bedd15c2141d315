"""What the benchmark measures: one class per kind of subject, all timed by the same engine.

Shaped like mmdet's ``mmdet/utils/benchmark.py`` (one base class, a subclass per thing measured), but
the subjects only say *what one call is*; the timing, the rounds and the memory subprocess are
:mod:`convnext_dense.analysis.benchmark`'s and :mod:`convnext_dense.analysis.memory`'s, the same for
all three:

* :class:`BackboneSubject`: a backbone (:mod:`.backbones`) in one mode (dtype, channels-last,
  ``torch.compile``) on a random input: inference, batch-1 latency, a training step (SGD, lr 0);
* :class:`ConfigSubject`: a config's whole model with random weights on synthetic images and labels
  of one size: ``model.test_step`` and ``model.train_step``;
* :class:`TrainedSubject`: a config's model with a trained checkpoint on its own test set: the test
  images are loaded and decoded beforehand, and each call is ``model.test_step`` on the next one
  (batch 1);
* :class:`OnnxBackboneSubject`, :class:`OnnxConfigSubject` (``spec['runtime'] == 'onnxruntime'``): the
  same backbone or whole model, with the same weights and inputs, exported to ONNX
  (:mod:`convnext_dense.deploy`) and run in onnxruntime (``test_step`` of the exported model for a
  config: the host's pre- and post-processing included).

Each subject is built from a *spec*, a JSON-able dict, so that the memory worker can rebuild it alone
in a fresh process. ``spec['model']`` says which subject: a backbone name, ``config:PATH`` or
``trained:PATH``.
"""

import copy
import json
import os.path as osp
import tempfile
from contextlib import nullcontext
from typing import List, Optional, Sequence

import torch

from ..errors import ConfigError, MissingFileError
from .backbones import build_backbone

__all__ = [
    'DTYPES',
    'BackboneSubject',
    'ConfigSubject',
    'OnnxBackboneSubject',
    'OnnxConfigSubject',
    'Subject',
    'TrainedSubject',
    'build_subject',
    'supported_dtypes',
    'trained_spec',
    'variant_specs',
]

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}
TASKS = ('infer', 'latency', 'train')


def supported_dtypes(device: str) -> List[str]:
    """The dtypes worth timing on ``device``: fp32 everywhere, bf16 where autocast supports it, fp16 on CUDA."""
    if device.startswith('cuda'):
        return ['fp32', 'fp16'] + (['bf16'] if torch.cuda.is_bf16_supported() else [])
    return ['fp32', 'bf16']


def _config_name(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


class Subject:
    """One model in one mode, as the timing engine sees it.

    Subclasses set ``module`` (the ``nn.Module`` whose parameters are counted) and ``name`` (the row
    title), and implement :meth:`infer` and, where they train, :meth:`train_step`.

    Args:
        spec: ``dict(model, device='cpu', dtype='fp32', batch=1, size=(224, 224), ...)``; the
            subclasses document their own keys.
    """

    #: the tasks this subject can time, of 'infer' (images/s at ``batch``), 'latency' (batch 1, ms)
    #: and 'train' (images/s of a training step)
    tasks = TASKS

    def __init__(self, spec: dict):
        self.spec = dict(spec)
        self.device = torch.device(self.spec.get('device', 'cpu'))
        self.dtype = self.spec.get('dtype', 'fp32')
        self.batch = int(self.spec.get('batch', 1))
        self.size = tuple(self.spec.get('size', (224, 224)))
        self.module: torch.nn.Module = None
        self.name = self.spec['model']

    @property
    def family(self) -> Optional[str]:
        """Subjects of a family share weights: outputs are compared with its first one (None: not compared)."""
        return None

    @property
    def max_rounds(self) -> Optional[int]:
        """The most timed calls that measure something new (None: unlimited)."""
        return None

    def autocast(self):
        """``torch.autocast`` to the spec's dtype (nothing for fp32)."""
        if self.dtype == 'fp32':
            return nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.dtype])

    def infer(self, batch: Optional[int] = None):
        """One inference call at ``batch`` (default: the spec's); returns the outputs."""
        raise NotImplementedError

    def train_step(self):
        """One training step at the spec's batch."""
        raise NotImplementedError(f'{type(self).__name__} does not train')

    def call(self, task: str):
        """One call of ``task``: 'infer', 'latency' (inference at batch 1) or 'train'."""
        if task == 'latency':
            return self.infer(1)
        return self.infer() if task == 'infer' else self.train_step()

    def memory_run(self):
        """What the memory worker measures the peak of: one call of every task this subject has."""
        self.infer()
        if 'train' in self.tasks:
            self.train_step()

    def describe(self) -> dict:
        """Row fields particular to this kind of subject."""
        return {}

    def complexity(self) -> dict:
        """``dict(params_m, gflops)``; GFLOPs are multiply-adds (the papers' count), None where not counted."""
        return dict(params_m=sum(p.numel() for p in self.module.parameters()) / 1e6, gflops=None)


class BackboneSubject(Subject):
    """A backbone in one mode on a random input (:func:`~convnext_dense.analysis.backbones.build_backbone`).

    Spec keys: ``model`` (convnext, convnext-fused, convnext-ref, timm, swin), ``device``, ``dtype``,
    ``batch``, ``size`` (H, W), ``channels_last``, ``compile``, ``arch`` (``dict(depths, dims)``).
    """

    def __init__(self, spec: dict):
        super().__init__(spec)
        s = self.spec
        layout = 'channels-last' if s.get('channels_last') else 'NCHW'
        self.name = f"{s['model']} | {self.dtype} | {layout} | {'compiled' if s.get('compile') else 'eager'}"
        self.module = build_backbone(s['model'], s.get('arch'), bool(s.get('channels_last'))).to(self.device)
        self.run_module = torch.compile(self.module) if s.get('compile') else self.module
        self.optim = torch.optim.SGD([p for p in self.module.parameters() if p.requires_grad], lr=0.0)
        g = torch.Generator().manual_seed(1)
        self.x = {b: torch.randn(b, 3, *self.size, generator=g).to(self.device) for b in {1, self.batch}}
        if s.get('channels_last') and s['model'] in ('timm', 'swin'):
            self.x = {b: x.contiguous(memory_format=torch.channels_last) for b, x in self.x.items()}

    @property
    def family(self) -> str:
        return 'swin' if self.spec['model'] == 'swin' else 'convnext'

    def infer(self, batch: Optional[int] = None):
        self.module.eval()
        with torch.no_grad(), self.autocast():
            return self.run_module(self.x[batch or self.batch])

    def train_step(self):
        self.module.train()
        self.optim.zero_grad(set_to_none=True)
        with self.autocast():
            outs = self.run_module(self.x[self.batch])
        sum(o.float().mean() for o in outs).backward()
        self.optim.step()

    def complexity(self) -> dict:
        from torch.utils.flop_counter import FlopCounterMode

        self.module.eval()
        # with gradients enabled: ConvNeXt's oneDNN inference kernels are unknown to the counter
        with torch.enable_grad(), FlopCounterMode(display=False) as counter:
            self.module(self.x[1])
        return dict(params_m=super().complexity()['params_m'], gflops=counter.get_total_flops() / 2 / 1e9)


class ConfigSubject(Subject):
    """A config's whole model with random weights and synthetic inputs (images and labels) of one size.

    Spec keys: ``model`` (``config:PATH``), ``device``, ``dtype``, ``batch``, ``size`` (H, W).
    Inference is ``model.test_step`` (preprocessing, forward, post-processing), the training step
    ``model.train_step`` (losses, backward, SGD with lr 0).
    """

    def __init__(self, spec: dict, seed: int = 0):
        super().__init__(spec)
        from mmengine.model.utils import revert_sync_batchnorm
        from mmengine.optim import OptimWrapper

        import convnext_dense  # noqa: F401  (registers everything)
        from convnext_dense.apis import load_config

        from .complexity import build_model

        path = self.spec['model'][len('config:') :]
        self.name = f'{_config_name(path)} | {self.dtype} | as configured | eager'
        torch.manual_seed(seed)
        self.cfg = load_config(path)
        self.scope = self.cfg.get('default_scope') or 'mmengine'
        self.module = revert_sync_batchnorm(build_model(self.cfg)).to(self.device)
        self.module.init_weights()
        self.optim = OptimWrapper(torch.optim.SGD(self.module.parameters(), lr=0.0))
        self.h, self.w = int(self.size[0]), int(self.size[1])

    def inference_mode(self) -> str:
        """How ``test_step`` infers at this size: mmseg's sliding windows (count, crop, stride) or the whole image."""
        test_cfg = getattr(self.module, 'test_cfg', None) or {}
        if self.scope == 'mmseg' and test_cfg.get('mode') == 'slide':
            (ch, cw), (sh, sw) = test_cfg['crop_size'], test_cfg['stride']
            windows = (max(self.h - ch + sh - 1, 0) // sh + 1) * (max(self.w - cw + sw - 1, 0) // sw + 1)
            return f"slide, {windows} window{'s' if windows != 1 else ''} of {ch}x{cw}, stride {sh}x{sw}"
        return 'whole image'

    def describe(self) -> dict:
        return dict(inference_mode=self.inference_mode())

    def data(self, batch: int) -> dict:
        """A batch of ``batch`` random uint8 images with 3 boxes + masks (mmdet) or a label map (mmseg)."""
        g = torch.Generator().manual_seed(batch)
        inputs = [torch.randint(0, 256, (3, self.h, self.w), generator=g, dtype=torch.uint8) for _ in range(batch)]
        meta = dict(
            img_shape=(self.h, self.w),
            ori_shape=(self.h, self.w),
            pad_shape=(self.h, self.w),
            scale_factor=(1.0, 1.0),
            flip=False,
            flip_direction=None,
        )
        return dict(inputs=inputs, data_samples=[self._sample(meta, g) for _ in range(batch)])

    def _sample(self, meta: dict, g: torch.Generator):
        if self.scope == 'mmdet':
            from mmdet.structures import DetDataSample
            from mmdet.structures.mask import BitmapMasks
            from mmengine.structures import InstanceData

            sample = DetDataSample(metainfo=meta)
            boxes = torch.tensor([[0.1, 0.1, 0.5, 0.6], [0.4, 0.3, 0.9, 0.9], [0.2, 0.5, 0.7, 0.95]])
            boxes = boxes * torch.tensor([self.w, self.h, self.w, self.h])
            masks = torch.zeros(3, self.h, self.w, dtype=torch.uint8)
            for k, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
                masks[k, y1:y2, x1:x2] = 1
            sample.gt_instances = InstanceData(
                bboxes=boxes, labels=torch.tensor([0, 1, 2]), masks=BitmapMasks(masks.numpy(), self.h, self.w)
            )
            return sample
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample

        sample = SegDataSample(metainfo=meta)
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, self.h, self.w), generator=g))
        return sample

    def infer(self, batch: Optional[int] = None):
        self.module.eval()
        with torch.no_grad(), self.autocast():
            return self.module.test_step(self.data(batch or self.batch))

    def train_step(self):
        self.module.train()
        with self.autocast():
            return self.module.train_step(self.data(self.batch), self.optim)

    def complexity(self) -> dict:
        from .complexity import model_complexity

        c = model_complexity(self.cfg, (self.size[1], self.size[0]))
        return dict(params_m=c['params'] / 1e6, gflops=c['flops'] / 1e9)


class TrainedSubject(Subject):
    """A config's model with its trained checkpoint, on the config's own test set, batch 1.

    Spec keys: ``model`` (``trained:PATH``), ``checkpoint`` (a .pth, or None: the model's random
    init; speed and memory do not depend on the weights), ``images`` (how many test images to load),
    ``warmup`` (how many of them the timing engine's warm-up calls use), ``device``, ``dtype``.
    The first ``images`` images of the test set are loaded and decoded (the config's test pipeline)
    when the subject is built, so that no call times file reading; each call of :meth:`infer` runs
    ``model.test_step`` on the next one, the first ``warmup`` calls on the first ones.
    """

    tasks = ('infer',)

    def __init__(self, spec: dict):
        super().__init__(dict(spec, batch=1))
        from mmengine.model.utils import revert_sync_batchnorm
        from mmengine.runner import Runner, load_checkpoint

        import convnext_dense  # noqa: F401  (registers everything)
        from convnext_dense.apis import load_config

        from .complexity import build_model

        path = self.spec['model'][len('trained:') :]
        self.name = f'{_config_name(path)} | {self.dtype} | as configured | eager'
        cfg = load_config(path)
        self.scope = cfg.get('default_scope')
        model = revert_sync_batchnorm(build_model(cfg))  # the backbone's init_cfg is dropped: no download
        if self.spec.get('checkpoint'):
            load_checkpoint(model, self.spec['checkpoint'], map_location='cpu')
        self.module = model.to(self.device).eval()
        loader = Runner.build_dataloader(
            dict(cfg.test_dataloader, batch_size=1, num_workers=0, persistent_workers=False)
        )
        self.batches, wanted = [], int(self.spec['images'])
        for batch in loader:
            self.batches.append(batch)
            if len(self.batches) == wanted:
                break
        self.warmup = int(self.spec.get('warmup', 0))
        if len(self.batches) <= self.warmup:
            raise ConfigError(
                f'{path}: the test set has {len(self.batches)} images, fewer than --warmup {self.warmup} + 1; '
                f'lower --warmup'
            )
        self.size = tuple(self.batches[self.warmup]['data_samples'][0].ori_shape)
        self._next = 0

    @property
    def max_rounds(self) -> int:
        return len(self.batches) - self.warmup

    def infer(self, batch: Optional[int] = None):
        data = self.batches[self._next]
        self._next = (self._next + 1) % len(self.batches)
        with torch.no_grad(), self.autocast():
            return self.module.test_step(data)

    def memory_run(self):
        for _ in self.batches:
            self.infer()

    def describe(self) -> dict:
        return dict(scope=self.scope, checkpoint=self.spec.get('checkpoint') or 'random init')


class _OnnxRuntime:
    """What the two exported subjects share: the export into a temporary file and the session's threads."""

    tasks = ('infer', 'latency')

    def _exported(self, module: torch.nn.Module, task: str, shape) -> str:
        """Export a copy of ``module`` (the PyTorch subject's weights stay as they are); the file's path."""
        from convnext_dense.deploy.export import export_model

        if self.spec.get('compile'):
            raise ConfigError('benchmark: an onnxruntime variant is not compiled; use --compile off with it')
        if self.dtype == 'bf16':
            raise ConfigError('benchmark: onnxruntime variants are fp32 or fp16 (an fp16 export), not bf16')
        self._folder = tempfile.TemporaryDirectory(prefix='benchmark_onnx_')
        path = osp.join(self._folder.name, 'model.onnx')
        export_model(copy.deepcopy(module).float().eval(), task, path, fp16=self.dtype == 'fp16', shape=shape)
        return path

    def autocast(self):
        return nullcontext()  # fp16 is the exported graph's own

    def _runtime_name(self) -> str:
        providers = (
            self.session.get_providers() if hasattr(self, 'session') else self.onnx_model.session.get_providers()
        )
        return 'onnxruntime ' + providers[0].replace('ExecutionProvider', '')

    def describe(self) -> dict:
        return dict(runtime=self._runtime_name(), threads=torch.get_num_threads())


class OnnxBackboneSubject(_OnnxRuntime, BackboneSubject):
    """A :class:`BackboneSubject`'s backbone (same weights, same inputs) exported to ONNX, in onnxruntime.

    Spec keys: those of :class:`BackboneSubject` and ``runtime='onnxruntime'``; ``dtype`` 'fp16' exports
    float16 layers with float32 normalisations. The session has torch's thread count, for a fair ratio.
    """

    def __init__(self, spec: dict):
        BackboneSubject.__init__(self, dict(spec, channels_last=False, compile=False))
        from convnext_dense.deploy import create_session

        path = self._exported(self.module, 'backbone', self.size)
        self.session = create_session(path, str(self.device), threads=torch.get_num_threads())
        self.name = f"{self.spec['model']} | {self.dtype} | ONNX | {self._runtime_name()}"
        self._feeds = {b: {'input': x.cpu().numpy()} for b, x in self.x.items()}

    def infer(self, batch: Optional[int] = None):
        return tuple(torch.from_numpy(o) for o in self.session.run(None, self._feeds[batch or self.batch]))


class OnnxConfigSubject(_OnnxRuntime, ConfigSubject):
    """A :class:`ConfigSubject`'s whole model (same weights, same synthetic images) exported, in onnxruntime.

    A call is the exported model's ``test_step`` (:func:`convnext_dense.deploy.load_onnx_model`): the graph
    and the host's share (sliding windows, resizing, mask pasting), as ``model.test_step`` is for PyTorch.
    """

    def __init__(self, spec: dict):
        ConfigSubject.__init__(self, dict(spec, compile=False))
        from convnext_dense.deploy import load_onnx_model
        from convnext_dense.deploy.export import default_shape, task_of

        task = task_of(self.cfg)
        shape = self.size if task != 'segmentor' else default_shape(self.cfg, task)
        path = self._exported(self.module, task, shape)
        self.onnx_model = load_onnx_model(path, str(self.device), threads=torch.get_num_threads())
        self.name = (
            f'{_config_name(self.spec["model"][len("config:") :])} | {self.dtype} | ONNX | {self._runtime_name()}'
        )

    def infer(self, batch: Optional[int] = None):
        return self.onnx_model.test_step(self.data(batch or self.batch))

    def describe(self) -> dict:
        return dict(ConfigSubject.describe(self), **_OnnxRuntime.describe(self))


def build_subject(spec: dict) -> Subject:
    """The subject ``spec['model']`` names: ``config:PATH``, ``trained:PATH`` or a backbone; with
    ``spec['runtime'] == 'onnxruntime'``, its export in onnxruntime."""
    model = spec['model']
    onnx = spec.get('runtime', 'pytorch') == 'onnxruntime'
    if model.startswith('config:'):
        return OnnxConfigSubject(spec) if onnx else ConfigSubject(spec)
    if model.startswith('trained:'):
        if onnx:
            raise ConfigError('benchmark: trained models run in PyTorch; export them with tools/export.py')
        return TrainedSubject(spec)
    return OnnxBackboneSubject(spec) if onnx else BackboneSubject(spec)


def variant_specs(
    models: Sequence[str],
    dtypes: Sequence[str] = ('fp32',),
    channels_last: Sequence[bool] = (True,),
    compile: Sequence[bool] = (False,),
    device: str = 'cpu',
    batch: int = 8,
    size: Sequence[int] = (224, 224),
    arch: Optional[dict] = None,
    runtimes: Sequence[str] = ('pytorch',),
) -> List[dict]:
    """One spec per model x dtype x layout x compile x runtime, without duplicates, in that order.

    A model name ending in ``:nchw`` or ``:cl`` has that layout whatever ``channels_last`` says;
    ``convnext-ref`` is always NCHW (as released). An ``'onnxruntime'`` runtime has no layout or compile
    variants (the exported graph is NCHW and not compiled): one spec per model and dtype.

    Example:
        >>> specs = variant_specs(['timm:nchw', 'convnext', 'convnext-ref'], channels_last=(True, False))
        >>> [(s['model'], s['channels_last']) for s in specs]
        [('timm', False), ('convnext', True), ('convnext', False), ('convnext-ref', False)]
    """
    specs, seen = [], set()
    for entry in models:
        model, _, layout = entry.rpartition(':') if entry.endswith((':nchw', ':cl')) else (entry, '', '')
        layouts = [layout == 'cl'] if layout else channels_last
        for dtype in dtypes:
            for runtime in runtimes:
                onnx = runtime == 'onnxruntime'
                for cl in [False] if onnx else layouts:
                    for comp in [False] if onnx else compile:
                        spec = dict(
                            model=model,
                            device=device,
                            dtype=dtype,
                            batch=batch,
                            size=list(size),
                            channels_last=bool(cl) and model != 'convnext-ref',
                            compile=bool(comp),
                            arch=arch,
                        )
                        if onnx:
                            spec['runtime'] = runtime
                        key = json.dumps(spec, sort_keys=True)
                        if key not in seen:
                            seen.add(key)
                            specs.append(spec)
    return specs


def trained_spec(
    config: str, checkpoint: Optional[str], num_images: int, warmup: int, device: str = 'cpu', dtype: str = 'fp32'
) -> dict:
    """The spec of a :class:`TrainedSubject`: ``num_images`` timed test images after ``warmup`` ones.

    Args:
        config: the config file.
        checkpoint: a .pth file, or None for the model's random init.
        num_images: timed images (one per round of the timing engine).
        warmup: untimed images first.
        device: 'cpu' or 'cuda'.
        dtype: autocast dtype ('fp32': none).
    """
    if not osp.isfile(config):
        raise MissingFileError(f'config {config!r} does not exist')
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise MissingFileError(f'checkpoint {checkpoint!r} does not exist: give a .pth, latest or none')
    return dict(
        model=f'trained:{config}',
        checkpoint=checkpoint,
        images=warmup + num_images,
        warmup=warmup,
        device=device,
        dtype=dtype,
    )
