"""Test plugin (imported by the configs of test_kill_and_resume.py): large checkpoints, slow to write."""

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class PadCheckpointHook(Hook):
    """Add 96 MB of zeros to every checkpoint (no random numbers drawn, the training is unchanged)."""

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['padding'] = torch.zeros(24 * 2**20)
