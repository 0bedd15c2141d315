"""What the tools do between the command line and mmengine's Runner: config loading (:mod:`.config`),
preflight checks (:mod:`.preflight`), distributed set-up (:mod:`.distributed`), inference. FLOPs and
benchmarks are :mod:`convnext_dense.analysis`."""

from .config import (
    add_launcher_args,
    apply_test_args,
    apply_train_args,
    default_work_dir,
    load_config,
    rebase_data_root,
)

__all__ = [
    'add_launcher_args',
    'apply_test_args',
    'apply_train_args',
    'default_work_dir',
    'load_config',
    'rebase_data_root',
]
