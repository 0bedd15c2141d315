"""Speed, memory, FLOPs and parameters of backbones and whole models, measured fairly on one machine.

Used by ``tools/benchmark.py`` (the one benchmark command). What it measures, per *variant* (a model
in one mode: dtype, channels-last on/off, ``torch.compile`` on/off):

* inference images/s at ``batch`` (no gradients, eval mode), latency at batch 1 (ms), and a training
  step's images/s (forward + backward + SGD step, train mode);
* all variants are timed in **interleaved rounds in one process** (round r times every variant once, in
  turn), after warm-up calls; each figure is the median over rounds with its min..max spread. On a
  shared machine the load changes during a run: interleaving makes the *ratios* fair even then;
* peak memory: ``torch.cuda.max_memory_allocated`` on CUDA; on CPU the growth of the peak resident set
  (reset after building, Linux ``clear_refs``) of a fresh subprocess that runs one inference and one
  training step of that variant alone;
* GFLOPs (multiply-adds, as the papers count them; torch's ``FlopCounterMode`` / 2) and parameters;
* outputs: every variant's outputs are compared with its family's first variant (same weights), as
  the largest absolute difference over the largest reference magnitude.

Backbones (``--models``): ``convnext`` (this project's, in the mode a config uses), ``convnext-fused``
(after :meth:`ConvNeXt.fuse`), ``convnext-ref`` (``channels_last=False, onednn=False``: the block
as released), ``timm`` (timm's ``convnext_*`` with ``features_only``, plus the same output norms) --
all four with the same random weights -- and ``swin`` (mmdet's Swin-T; its own weights). Whole models:
``config:PATH`` (an mmdet / mmseg config, random weights, synthetic images and labels of ``size``).
"""

import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}
# Largest |a - b| / max|b| accepted as "equal outputs", per dtype (vs the fp32 reference).
TOLERANCE = {'fp32': 1e-4, 'bf16': 5e-2, 'fp16': 1e-2}
# ConvNeXt-T's widths and depths; Swin-T as in mmdet's and the paper's configs.
TINY = dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768))
SWIN_T = dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24))


def load_average() -> str:
    """``uptime``'s load averages (1, 5, 15 min), as a string; '' where unknown."""
    try:
        return ' '.join(f'{v:.2f}' for v in os.getloadavg())
    except OSError:
        return ''


def supported_dtypes(device: str) -> List[str]:
    """The dtypes worth timing on ``device``: fp32 everywhere, bf16 where autocast supports it, fp16 on CUDA."""
    if device.startswith('cuda'):
        return ['fp32', 'fp16'] + (['bf16'] if torch.cuda.is_bf16_supported() else [])
    return ['fp32', 'bf16']


# ------------------------------------------------------------------------------------------ backbones
class TimmConvNeXt(nn.Module):
    """timm's ConvNeXt (``features_only``) followed by the same per-stage LayerNorms as ours."""

    def __init__(self, arch: dict):
        super().__init__()
        import timm
        from timm.layers import LayerNorm2d

        self.body = timm.create_model(
            'convnext_tiny',
            pretrained=False,
            features_only=True,
            depths=tuple(arch['depths']),
            dims=tuple(arch['dims']),
        )
        self.norms = nn.ModuleList(LayerNorm2d(d, eps=1e-6) for d in arch['dims'])

    def forward(self, x):
        return tuple(norm(f) for norm, f in zip(self.norms, self.body(x)))


def timm_to_ours(timm_model: TimmConvNeXt) -> Dict[str, torch.Tensor]:
    """The weights of a :class:`TimmConvNeXt` in :class:`ConvNeXt`'s layout."""
    from convnext_dense.models import convert_state_dict

    body = {re.sub(r'^(stem|stages)_(\d+)', r'\1.\2', k): v for k, v in timm_model.body.state_dict().items()}
    state = convert_state_dict(body)
    for i, norm in enumerate(timm_model.norms):
        state[f'norm{i}.weight'], state[f'norm{i}.bias'] = norm.weight, norm.bias
    return state


def _randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights everywhere (norm scales around 1), so equality checks test something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            one = p.dim() == 1 and name.endswith('weight') and 'norm' in name
            p.copy_(torch.randn(p.shape, generator=g) * (0.1 if p.dim() == 1 else 0.02) + (1.0 if one else 0.0))
    return model


def build_backbone(name: str, arch: Optional[dict] = None, channels_last: bool = True, seed: int = 0) -> nn.Module:
    """Build one backbone with deterministic random weights (the ConvNeXt ones share them).

    Args:
        name: 'convnext', 'convnext-fused', 'convnext-ref', 'timm' or 'swin'.
        arch: ``dict(depths, dims)`` of the ConvNeXt (default ConvNeXt-T); Swin-T for 'swin' unless
            ``arch`` has ``embed_dims``/``depths``/``num_heads``.
        channels_last: ours: the ``channels_last`` option; timm/Swin: the model's memory format (the
            input follows, see :func:`run`).
        seed: weight seed.
    """
    from convnext_dense.models import ConvNeXt

    arch = dict(arch or TINY)
    if name == 'swin':
        from mmdet.models.backbones import SwinTransformer

        torch.manual_seed(seed)
        swin = arch if 'num_heads' in arch else SWIN_T
        model = SwinTransformer(
            embed_dims=swin['embed_dims'],
            depths=list(swin['depths']),
            num_heads=list(swin['num_heads']),
            window_size=7,
            out_indices=(0, 1, 2, 3),
        )
        model.eval()  # not chained: mmdet's SwinTransformer.train() returns None
        return model.to(memory_format=torch.channels_last) if channels_last else model
    reference = _randomise(TimmConvNeXt(arch), seed)
    if name == 'timm':
        reference.eval()
        return reference.to(memory_format=torch.channels_last) if channels_last else reference
    options = {'convnext': {}, 'convnext-fused': {}, 'convnext-ref': dict(onednn=False)}
    if name not in options:
        raise ValueError(
            f'benchmark: unknown backbone {name!r}; use convnext, convnext-fused, convnext-ref, timm, '
            f'swin or config:PATH'
        )
    ours = ConvNeXt(
        dict(depths=arch['depths'], dims=arch['dims']),
        out_indices=(0, 1, 2, 3),
        channels_last=channels_last and name != 'convnext-ref',
        **options[name],
    )
    ours.load_state_dict(timm_to_ours(reference))
    ours.eval()
    return ours.fuse() if name == 'convnext-fused' else ours


# --------------------------------------------------------------------------------------- whole models
class ConfigModel:
    """A config's whole model with random weights and synthetic inputs (images and labels) of one size."""

    def __init__(self, config: str, batch: int, size: Sequence[int], device: str, seed: int = 0):
        from mmengine.model.utils import revert_sync_batchnorm
        from mmengine.optim import OptimWrapper

        import convnext_dense  # noqa: F401  (registers everything)
        from convnext_dense.apis import load_config
        from convnext_dense.apis.complexity import build_model

        torch.manual_seed(seed)
        self.cfg = load_config(config)
        self.scope = self.cfg.get('default_scope') or 'mmengine'
        self.model = revert_sync_batchnorm(build_model(self.cfg)).to(device)
        self.model.init_weights()
        self.optim = OptimWrapper(torch.optim.SGD(self.model.parameters(), lr=0.0))
        self.h, self.w = int(size[0]), int(size[1])
        self.batch, self.device = batch, device

    def inference_mode(self) -> str:
        """How ``test_step`` infers at this size: mmseg's sliding windows (count, crop, stride) or the whole image."""
        test_cfg = getattr(self.model, 'test_cfg', None) or {}
        if self.scope == 'mmseg' and test_cfg.get('mode') == 'slide':
            (ch, cw), (sh, sw) = test_cfg['crop_size'], test_cfg['stride']
            windows = (max(self.h - ch + sh - 1, 0) // sh + 1) * (max(self.w - cw + sw - 1, 0) // sw + 1)
            return f"slide, {windows} window{'s' if windows != 1 else ''} of {ch}x{cw}, stride {sh}x{sw}"
        return 'whole image'

    def data(self, batch: int, train: bool) -> dict:
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
        samples = []
        for _ in range(batch):
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
            else:
                from mmengine.structures import PixelData
                from mmseg.structures import SegDataSample

                sample = SegDataSample(metainfo=meta)
                sample.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, self.h, self.w), generator=g))
            samples.append(sample)
        return dict(inputs=inputs, data_samples=samples)

    def infer(self, batch: int):
        self.model.eval()
        with torch.no_grad():
            return self.model.test_step(self.data(batch, False))

    def train_step(self, batch: int):
        self.model.train()
        return self.model.train_step(self.data(batch, True), self.optim)


# ------------------------------------------------------------------------------------------- variants
class Variant:
    """One model in one mode; ``spec`` (a JSON-able dict) rebuilds it in a memory-measuring subprocess."""

    def __init__(self, spec: dict):
        self.spec = dict(spec)
        s = self.spec
        self.device = torch.device(s.get('device', 'cpu'))
        self.dtype = s.get('dtype', 'fp32')
        self.batch, self.size = int(s.get('batch', 1)), tuple(s.get('size', (224, 224)))
        self.config = s['model'].startswith('config:')
        self.name = os.path.splitext(os.path.basename(s['model'][7:]))[0] if self.config else s['model']
        layout = 'as configured' if self.config else 'channels-last' if s.get('channels_last') else 'NCHW'
        self.name += f" | {self.dtype} | {layout} | {'compiled' if s.get('compile') else 'eager'}"
        if self.config:
            self.whole = ConfigModel(s['model'][7:], self.batch, self.size, str(self.device))
            self.module = self.whole.model
            return
        self.module = build_backbone(s['model'], s.get('arch'), bool(s.get('channels_last'))).to(self.device)
        self.run_module = torch.compile(self.module) if s.get('compile') else self.module
        self.optim = torch.optim.SGD([p for p in self.module.parameters() if p.requires_grad], lr=0.0)
        g = torch.Generator().manual_seed(1)
        self.x = {b: torch.randn(b, 3, *self.size, generator=g).to(self.device) for b in {1, self.batch}}
        if s.get('channels_last') and s['model'] in ('timm', 'swin'):
            self.x = {b: x.contiguous(memory_format=torch.channels_last) for b, x in self.x.items()}

    def _autocast(self):
        if self.dtype == 'fp32':
            return nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.dtype])

    def infer(self, batch: Optional[int] = None):
        batch = batch or self.batch
        if self.config:
            with self._autocast():
                return self.whole.infer(batch)
        self.module.eval()
        with torch.no_grad(), self._autocast():
            return self.run_module(self.x[batch])

    def train_step(self):
        if self.config:
            with self._autocast():
                return self.whole.train_step(self.batch)
        self.module.train()
        self.optim.zero_grad(set_to_none=True)
        with self._autocast():
            outs = self.run_module(self.x[self.batch])
        sum(o.float().mean() for o in outs).backward()
        self.optim.step()

    def complexity(self) -> dict:
        params = sum(p.numel() for p in self.module.parameters()) / 1e6
        if self.config:
            from convnext_dense.apis.complexity import model_complexity

            c = model_complexity(self.whole.cfg, (self.size[1], self.size[0]))
            return dict(params_m=c['params'] / 1e6, gflops=c['flops'] / 1e9)
        from torch.utils.flop_counter import FlopCounterMode

        self.module.eval()
        # with gradients enabled: ConvNeXt's oneDNN inference kernels are unknown to the counter
        with torch.enable_grad(), FlopCounterMode(display=False) as counter:
            self.module(self.x[1])
        return dict(params_m=params, gflops=counter.get_total_flops() / 2 / 1e9)


def _sync(device: torch.device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _timed(fn: Callable, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def relative_error(outs, refs) -> float:
    """Largest |a - b| over the largest |b|, over matching output tensors."""
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    refs = refs if isinstance(refs, (tuple, list)) else (refs,)
    worst = 0.0
    for a, b in zip(outs, refs):
        a, b = a.detach().float().cpu(), b.detach().float().cpu()
        worst = max(worst, ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item())
    return worst


def peak_memory_mib(spec: dict) -> Optional[float]:
    """Peak memory of one inference + one training step of ``spec``'s variant (MiB).

    CUDA: ``max_memory_allocated`` in this process. CPU: the growth of the peak resident set of a fresh
    subprocess over the model's building (so other variants' peaks cannot hide it).
    """
    if str(spec.get('device', 'cpu')).startswith('cuda'):
        variant = Variant(spec)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        variant.infer()
        variant.train_step()
        _sync(variant.device)
        return torch.cuda.max_memory_allocated() / 2**20
    proc = subprocess.run(
        [sys.executable, '-m', 'convnext_dense.benchmark', '--memory-worker', json.dumps(spec)],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads())),
    )
    if proc.returncode != 0:
        raise RuntimeError(f'benchmark: memory of {spec} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])['peak_mib']


def _status_kib(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _memory_worker(spec: dict) -> dict:
    """Peak resident-set growth over one inference and one training step, after the model is built.

    Linux: the peak (VmHWM) is reset through ``/proc/self/clear_refs`` after building, so the imports'
    own peak cannot hide a small model's; elsewhere the growth of ``ru_maxrss``.
    """
    torch.set_num_threads(max(1, int(os.environ.get('OMP_NUM_THREADS', '1'))))
    variant = Variant(spec)
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        base, reset = _status_kib('VmRSS'), True
    except OSError:
        base, reset = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, False
    variant.infer()
    variant.train_step()
    peak = _status_kib('VmHWM') if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(peak_mib=(peak - base) / 1024)


def run(
    specs: Sequence[dict],
    rounds: int = 5,
    warmup: int = 2,
    tasks: Sequence[str] = ('infer', 'latency', 'train'),
    memory: bool = True,
    baseline: int = 0,
    log: Callable[[str], None] = print,
) -> dict:
    """Measure ``specs`` (see :class:`Variant`) in interleaved rounds; return the JSON-able result.

    Args:
        specs: variant specs: ``dict(model, device, dtype, batch, size, channels_last, compile[, arch])``.
        rounds: timed rounds; every variant runs once per task per round.
        warmup: untimed calls per variant and task first (compilation happens there).
        tasks: of 'infer' (batch images/s), 'latency' (batch 1, ms) and 'train' (images/s of a step).
        memory: measure peak memory (not for compiled variants on CPU: the compiler's own memory).
        baseline: index of the variant that ratios are relative to.
        log: progress printer.
    """
    load_before = load_average()
    variants = [Variant(s) for s in specs]
    rows = []
    for v in variants:
        row = dict(name=v.name, **{k: v.spec.get(k) for k in ('model', 'dtype', 'channels_last', 'compile', 'batch')})
        row['size'] = list(v.size)
        if v.config:
            row['inference_mode'] = v.whole.inference_mode()
        row.update(v.complexity())
        rows.append(row)
    # Outputs: each variant against the first one of the same family (same weights, see build_backbone).
    refs: Dict[str, object] = {}
    for v, row in zip(variants, rows):
        family = (
            'swin' if v.spec['model'] == 'swin' else ('config:' + v.name.split(' |')[0] if v.config else 'convnext')
        )
        if v.config:
            row['max_rel_err'], row['equal'] = None, None
            continue
        outs = v.infer()
        if family not in refs:
            refs[family] = outs
        row['max_rel_err'] = relative_error(outs, refs[family])
        row['equal'] = row['max_rel_err'] <= TOLERANCE[v.dtype]
    timings = {task: [[] for _ in variants] for task in tasks}
    calls = {'infer': lambda v: v.infer(), 'latency': lambda v: v.infer(1), 'train': lambda v: v.train_step()}
    for v in variants:
        for task in tasks:
            for _ in range(warmup):
                calls[task](v)
    for r in range(rounds):
        for i, v in enumerate(variants):
            for task in tasks:
                timings[task][i].append(_timed(lambda: calls[task](v), v.device))  # noqa: B023
        log(f'round {r + 1}/{rounds} done (load {load_average()})')
    for i, (v, row) in enumerate(zip(variants, rows)):
        for task in tasks:
            t = timings[task][i]
            if task == 'latency':
                row['latency_ms'] = 1000 * statistics.median(t)
                row['latency_spread_ms'] = [1000 * min(t), 1000 * max(t)]
            else:
                row[f'{task}_img_s'] = v.batch / statistics.median(t)
                row[f'{task}_spread_img_s'] = [v.batch / max(t), v.batch / min(t)]
        row['peak_mem_mib'] = None
        if memory and not (v.spec.get('compile') and v.device.type == 'cpu'):
            row['peak_mem_mib'] = peak_memory_mib(v.spec)
    base = rows[baseline]
    for row in rows:
        for task in ('infer', 'train'):
            if f'{task}_img_s' in row:
                row[f'{task}_ratio'] = row[f'{task}_img_s'] / base[f'{task}_img_s']
    meta = dict(
        torch=torch.__version__,
        device=_device_name(variants[0].device),
        threads=torch.get_num_threads(),
        rounds=rounds,
        warmup=warmup,
        load_before=load_before,
        load_after=load_average(),
        baseline=base['name'],
        python=platform.python_version(),
        date=time.strftime('%Y-%m-%d %H:%M:%S'),
    )
    return dict(meta=meta, rows=rows)


def _device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)'


def profile_table(spec: dict, task: str = 'train', row_limit: int = 12) -> str:
    """``torch.profiler``'s table of the top operators (by self CPU time) of one call of ``task``."""
    from torch.profiler import ProfilerActivity, profile

    variant = Variant(spec)
    call = {'infer': variant.infer, 'latency': lambda: variant.infer(1), 'train': variant.train_step}[task]
    call()  # warm-up
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if variant.device.type == 'cuda' else [])
    with profile(activities=activities) as prof:
        call()
        _sync(variant.device)
    key = 'self_cuda_time_total' if variant.device.type == 'cuda' else 'self_cpu_time_total'
    return f'{variant.name}, {task}:\n' + prof.key_averages().table(sort_by=key, row_limit=row_limit)


# -------------------------------------------------------------------------------------------- reports
def _fmt(value, digits=2) -> str:
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'NO'
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    return str(value)


def _rate(value) -> str:
    """images/s: two decimals, or three significant digits below 1 (whole models on a CPU)."""
    if value is None:
        return '-'
    return f'{value:.2f}' if value >= 1 else f'{value:.3g}'


def markdown(result: dict, command: str = '') -> str:
    """The result as a markdown table, with the conditions and the command above it."""
    m = result['meta']
    rows = result['rows']
    lines = [
        f"{m['device']}, {m['threads']} threads, torch {m['torch']}, {m['date']}; median of {m['rounds']} "
        f"interleaved rounds after {m['warmup']} warm-up calls (spread min..max in the JSON); "
        f"load average (1/5/15 min) before {m['load_before']}, after {m['load_after']}. "
        f"Ratios relative to `{m['baseline']}`.",
        '',
    ]
    if command:
        lines += [f'Command: `{command}`', '']
    modes = [f"{r['name'].split(' |')[0]}: {r['inference_mode']}" for r in rows if r.get('inference_mode')]
    if modes:
        what = (
            [
                'inference is `model.test_step` (preprocessing, forward, post-processing) at the input size, '
                'as ' + '; '.join(modes)
            ]
            if any('infer_img_s' in r for r in rows)
            else []
        )
        if any('train_img_s' in r for r in rows):
            what.append('the training step is `model.train_step` (losses, backward, SGD) at the input size')
        lines += ['Whole models, random weights, synthetic images and labels: ' + '; '.join(what) + '.', '']
    has = {k: any(k in r for r in rows) for k in ('infer_img_s', 'latency_ms', 'train_img_s')}
    head = ['model', 'dtype', 'memory', 'compile', 'input', 'params (M)', 'GFLOPs']
    if has['infer_img_s']:
        head += ['inference img/s', 'x baseline']
    if has['latency_ms']:
        head += ['latency b=1 (ms)']
    if has['train_img_s']:
        head += ['train step img/s', 'x baseline']
    head += ['peak memory (MiB)', 'max rel. diff', 'equal']
    lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        cells = [
            r['name'],
            f"{r['batch']}x3x{r['size'][0]}x{r['size'][1]}",
            _fmt(r['params_m'], 1),
            _fmt(r['gflops'], 1),
        ]
        if has['infer_img_s']:
            cells += [_rate(r.get('infer_img_s')), _fmt(r.get('infer_ratio'))]
        if has['latency_ms']:
            cells += [_fmt(r.get('latency_ms'), 1)]
        if has['train_img_s']:
            cells += [_rate(r.get('train_img_s')), _fmt(r.get('train_ratio'))]
        err = r.get('max_rel_err')
        cells += [_fmt(r.get('peak_mem_mib'), 0), '-' if err is None else f'{err:.1e}', _fmt(r.get('equal'))]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot_bars(result: dict, path: str):
    """Bar chart of inference and training images/s per variant."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = result['rows']
    panels = [
        (k, t) for k, t in (('infer_img_s', 'inference'), ('train_img_s', 'training step')) if any(k in r for r in rows)
    ] or [('infer_img_s', 'inference')]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 0.45 * len(rows) + 1.5), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        values = [r.get(key) or 0.0 for r in rows]
        ax.barh(range(len(rows)), values, color='tab:blue')
        ax.set_yticks(range(len(rows)), [r['name'] for r in rows], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel('images/s')
        ax.set_title(f"{title}, {rows[0]['batch']}x3x{rows[0]['size'][0]}x{rows[0]['size'][1]}")
    fig.suptitle(result['meta']['device'], fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scaling(
    models: Sequence[str],
    sizes: Sequence[int],
    batches: Sequence[int],
    device: str = 'cpu',
    rounds: int = 3,
    warmup: int = 1,
    memory: bool = True,
    arch: Optional[dict] = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Inference images/s and peak memory vs square input size (batch 1) and vs batch size (at 224)."""
    out = dict(meta=dict(device=device, threads=torch.get_num_threads(), load_before=load_average()), size=[], batch=[])
    for axis, points in (('size', sizes), ('batch', batches)):
        for p in points:
            size, batch = ((p, p), 1) if axis == 'size' else ((224, 224), p)
            specs = [
                dict(
                    model=m,
                    device=device,
                    dtype='fp32',
                    batch=batch,
                    size=size,
                    channels_last=m != 'swin',
                    compile=False,
                    arch=arch,
                )
                for m in models
            ]
            res = run(specs, rounds=rounds, warmup=warmup, tasks=('infer',), memory=memory, log=log)
            for m, row in zip(models, res['rows']):
                out[axis].append(
                    dict(
                        model=m,
                        point=p,
                        infer_img_s=row['infer_img_s'],
                        peak_mem_mib=row['peak_mem_mib'],
                        load=res['meta']['load_after'],
                    )
                )
            log(f'{axis} {p} done')
    out['meta']['load_after'] = load_average()
    return out


def plot_scaling(result: dict, prefix: str) -> List[str]:
    """``<prefix>_size.png`` and ``<prefix>_batch.png``: images/s and peak memory per model."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    paths = []
    for axis, label in (('size', 'input size (square, batch 1)'), ('batch', 'batch size (224x224)')):
        points = result[axis]
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
        for model in dict.fromkeys(p['model'] for p in points):
            mine = [p for p in points if p['model'] == model]
            a.plot([p['point'] for p in mine], [p['infer_img_s'] for p in mine], 'o-', label=model)
            if any(p['peak_mem_mib'] is not None for p in mine):
                b.plot([p['point'] for p in mine], [p['peak_mem_mib'] or 0 for p in mine], 'o-', label=model)
        a.set_xlabel(label), a.set_ylabel('inference images/s (log scale)'), a.set_yscale('log'), a.legend()
        a.yaxis.set_major_formatter(ScalarFormatter()), a.yaxis.set_minor_formatter(ScalarFormatter())
        a.tick_params(axis='y', which='minor', labelsize=7)
        a.set_xticks(sorted({p['point'] for p in points}))
        b.set_xlabel(label), b.set_ylabel('peak memory (MiB)'), b.legend()
        b.set_xticks(sorted({p['point'] for p in points}))
        a.set_title('inference, fp32'), b.set_title('peak memory: one inference + one training step')
        meta = result['meta']
        device = _device_name(torch.device(meta['device'])) if meta['device'] == 'cpu' else meta['device']
        fig.suptitle(
            f"{device}, {meta['threads']} threads; load average before {meta['load_before']}, "
            f"after {meta.get('load_after', '?')}",
            fontsize=9,
        )
        fig.tight_layout()
        path = f'{prefix}_{axis}.png'
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--memory-worker':
        print(json.dumps(_memory_worker(json.loads(sys.argv[2]))))
    else:
        sys.exit('usage: python tools/benchmark.py --help')
