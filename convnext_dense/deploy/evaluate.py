"""The test-set metrics of an exported model beside the PyTorch model's, on the same batches.

:func:`compare_metrics` is the test loop of mmengine (``Runner.test``: the config's test dataloader and
evaluator, ``model.test_step`` per batch, ``evaluator.process``, ``evaluator.evaluate``), run for the
PyTorch checkpoint and for the ONNX file side by side: each image goes through both, one image a batch
(a batch would pad its images to a common size in PyTorch only). Detection gives COCO box/mask AP,
segmentation mIoU, classification top-k accuracy, for both.
"""

import copy
import os.path as osp
import time
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner

from ..errors import ConfigError
from .export import build_model, load_model_checkpoint
from .runtime import load_onnx_model


def compare_metrics(
    cfg: Config,
    checkpoint: str,
    onnx_path: str,
    limit: Optional[int] = None,
    device: str = 'cpu',
    threads: Optional[int] = None,
    work_dir: Optional[str] = None,
) -> dict:
    """Evaluate the checkpoint in PyTorch and the exported file in onnxruntime on ``cfg``'s test set.

    Args:
        cfg: the config both were made from (its test dataloader and evaluator are used).
        checkpoint: the PyTorch checkpoint.
        onnx_path: the file :func:`~.export.export_onnx` wrote from it.
        limit: evaluate the first ``limit`` images only (the metrics then still count the others' ground truth).
        device: onnxruntime's device ('cpu' or 'cuda'); PyTorch runs on the CPU.
        threads: onnxruntime's intra-op threads (None: its default).
        work_dir: where evaluators that write results files (COCO's ``outfile_prefix``) write them, one folder
            per backend; None: a temporary folder.

    Returns:
        ``{'pytorch': metrics, 'onnxruntime': metrics, 'images': n, 'seconds': {'pytorch': s, 'onnxruntime': s}}``.
    """
    if not cfg.get('test_dataloader') or not cfg.get('test_evaluator'):
        raise ConfigError('deploy evaluation: the config has no test_dataloader / test_evaluator')
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg.update(batch_size=1, num_workers=0, persistent_workers=False)
    model = build_model(cfg)  # in the config's scope, which the dataloader and evaluator need too
    load_model_checkpoint(model, checkpoint)
    onnx_model = load_onnx_model(onnx_path, device, threads)
    loader = Runner.build_dataloader(loader_cfg)
    evaluators = dict(
        pytorch=Evaluator(copy.deepcopy(cfg.test_evaluator)), onnxruntime=Evaluator(copy.deepcopy(cfg.test_evaluator))
    )
    for name, evaluator in evaluators.items():
        evaluator.dataset_meta = loader.dataset.metainfo
        _outfiles(evaluator, osp.join(work_dir, name) if work_dir else None)
    seconds = dict(pytorch=0.0, onnxruntime=0.0)
    images = 0
    for data in loader:
        if limit is not None and images >= limit:
            break
        for name, runner in (('pytorch', model), ('onnxruntime', onnx_model)):
            batch = copy.deepcopy(data)
            start = time.perf_counter()
            with torch.no_grad():
                outputs = runner.test_step(batch)
            seconds[name] += time.perf_counter() - start
            evaluators[name].process(data_samples=outputs, data_batch=batch)
        images += len(data['inputs'])
    metrics = {name: evaluator.evaluate(images) for name, evaluator in evaluators.items()}
    return dict(metrics, images=images, seconds=seconds)


def _outfiles(evaluator: Evaluator, folder: Optional[str]) -> None:
    """Point results files (a prefix such as ``'{log_dir}/coco_test'``, which a Runner's hook fills) into
    ``folder``, or at the metric's own temporary folder."""
    for metric in evaluator.metrics:
        prefix = getattr(metric, 'outfile_prefix', None)
        if isinstance(prefix, str):
            metric.outfile_prefix = osp.join(folder, osp.basename(prefix)) if folder else None


def format_comparison(result: dict) -> str:
    """A markdown table of the metrics both backends report, with their differences."""
    rows = ['| metric | PyTorch | onnxruntime | difference |', '|---|---|---|---|']
    for key, value in result['pytorch'].items():
        other = result['onnxruntime'].get(key)
        if isinstance(value, (int, float)) and isinstance(other, (int, float)):
            rows.append(f'| {key} | {value:.4g} | {other:.4g} | {other - value:+.4g} |')
    seconds = result['seconds']
    rows.append(
        f'| seconds for {result["images"]} images | {seconds["pytorch"]:.1f} | {seconds["onnxruntime"]:.1f} | |'
    )
    return '\n'.join(rows)
