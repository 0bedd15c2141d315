"""mmengine's EMAHook, saving checkpoints in the released layout: trained weights and EMA side by side.

mmengine's :class:`~mmengine.hooks.EMAHook` averages the weights (``momentum`` = 1 - decay; the
release's decay 0.9999 is ``momentum=1e-4``) and evaluates with the average. When it saves a
checkpoint, however, it *swaps* the two: ``state_dict`` holds the EMA and ``ema_state_dict`` the
trained weights. The ConvNeXt release keeps them apart (``model`` = trained, ``model_ema`` = EMA),
detection and segmentation start from the trained (non-EMA) weights, and
:func:`convnext_dense.models.load_pretrained` reads ``state_dict`` by default and ``ema_state_dict``
with ``use_ema=True``. This subclass only drops the swap, so the names mean what they say:

* ``state_dict``: the trained weights (what ``load_from``, fine-tuning and ``load_pretrained`` use);
* ``ema_state_dict``: the EMA (``module.``-prefixed, plus the ``steps`` counter), used on resume and
  by validation/test.

Averaging, validation with the EMA and resuming are the parent's code.
"""
from mmengine.hooks import EMAHook
from mmengine.registry import HOOKS
from mmengine.runner.checkpoint import load_state_dict


@HOOKS.register_module()
class UnswappedEMAHook(EMAHook):
    """:class:`~mmengine.hooks.EMAHook` whose checkpoints keep ``state_dict`` = trained, ``ema_state_dict`` = EMA.

    Args: as :class:`~mmengine.hooks.EMAHook`, e.g. ``dict(type='UnswappedEMAHook', momentum=1e-4,
    priority='ABOVE_NORMAL')``.
    """

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['ema_state_dict'] = self.ema_model.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the EMA from ``ema_state_dict`` (resume, test, load_from); without it, start it from the weights."""
        if 'ema_state_dict' in checkpoint:
            # mmengine's tolerant loader: a fine-tuning head of another shape is reported, not fatal.
            load_state_dict(self.ema_model, checkpoint['ema_state_dict'], strict=self.strict_load)
        else:
            super().after_load_checkpoint(runner, checkpoint)
