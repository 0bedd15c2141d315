"""Command-line glue shared by the tools."""
from .launch import apply_test_args, apply_train_args, default_work_dir, load_config

__all__ = ['apply_test_args', 'apply_train_args', 'default_work_dir', 'load_config']
