"""Measuring models: speed, memory, FLOPs and parameters, and reading back what training runs logged.

One package for every analysis the tools print (``tools/benchmark.py``, ``tools/flops.py``) and the
experiments under ``projects/`` use:

* :mod:`.subjects`: what is measured: a backbone (:mod:`.backbones`), a config's whole model on
  synthetic inputs, a trained checkpoint on its test set; one class each over one base class;
* :mod:`.benchmark`: the one timing engine for all of them (interleaved rounds, median and spread,
  load average, equal outputs), the scaling sweep and the profiler table;
* :mod:`.memory`: peak memory of a subject alone in a fresh subprocess;
* :mod:`.report`: markdown tables, JSON, bar and scaling plots, the trained-model table;
* :mod:`.complexity`: FLOPs and parameters of a config's model (mmengine's ``FlopAnalyzer``);
* :mod:`.logs`: what an mmengine run leaves in its work dir: runs, scalars, last metrics, wall time,
  latest checkpoint;
* seeing what a model does (``docs/analysis.md``; imported by their tools, not here): :mod:`.curves` (log
  curves and the summary table), :mod:`.confusion` (confusion matrices), :mod:`.browse` (the ground truth
  after the pipeline), :mod:`.erf` (effective receptive field).
"""

from .backbones import build_backbone
from .benchmark import TOLERANCE, load_average, profile_table, relative_error, run, scaling
from .complexity import build_model, model_complexity
from .logs import last_metrics, latest_checkpoint, metric_records, newest_run, read_scalars, runs, wall_time_s
from .memory import peak_memory
from .report import (
    markdown,
    markdown_table,
    plot_bars,
    plot_scaling,
    save,
    save_scaling,
    trained_markdown,
    trained_rows,
)
from .subjects import (
    BackboneSubject,
    ConfigSubject,
    Subject,
    TrainedSubject,
    build_subject,
    supported_dtypes,
    trained_spec,
    variant_specs,
)

__all__ = [
    'TOLERANCE',
    'BackboneSubject',
    'ConfigSubject',
    'Subject',
    'TrainedSubject',
    'build_backbone',
    'build_model',
    'build_subject',
    'last_metrics',
    'latest_checkpoint',
    'load_average',
    'markdown',
    'markdown_table',
    'metric_records',
    'model_complexity',
    'newest_run',
    'peak_memory',
    'plot_bars',
    'plot_scaling',
    'profile_table',
    'read_scalars',
    'relative_error',
    'run',
    'runs',
    'save',
    'save_scaling',
    'scaling',
    'supported_dtypes',
    'trained_markdown',
    'trained_rows',
    'trained_spec',
    'variant_specs',
    'wall_time_s',
]
