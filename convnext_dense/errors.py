"""The user's mistakes, as types: what the tools print as one ``error: ...`` line instead of a traceback.

Every check in this package that finds a mistake in what the user gave (a config value, a file, the
data, a checkpoint, the machine) raises a :class:`UserError`, and its message names the file, key or
value and the fix (``docs/errors.md`` lists them). :func:`convnext_dense.apis.cli.run_cli` prints such
an error as ``error: <message>`` with exit code 2; anything else, a bug here or an error inside torch or
mmengine, keeps its traceback.

Each class also derives from the builtin exception that code catching errors generically expects
(a wrong value is a ``ValueError``, a missing file a ``FileNotFoundError``), so ``except ValueError``
keeps working.

Example:
    >>> try:
    ...     raise ConfigError("model.backbone.arch='tinyy' is not a ConvNeXt size")
    ... except ValueError as e:
    ...     isinstance(e, UserError)
    True
"""

__all__ = [
    'CheckpointError',
    'ConfigError',
    'DataError',
    'DeviceError',
    'MissingFileError',
    'TrainingError',
    'UserError',
]


class UserError(Exception):
    """A mistake in what the user gave; the message says what is wrong and how to fix it.

    ``traceback_hint``: whether the tools add "(the full traceback: CONVNEXT_DENSE_TRACEBACK=1)"; False
    for reports that are complete in themselves (the preflight's list of problems).
    """

    traceback_hint = True


class ConfigError(UserError, ValueError):
    """A config value, a ``--cfg-options`` key or a command-line argument that cannot work."""


class DataError(UserError, ValueError):
    """A dataset file whose content is wrong (annotations, labels, images)."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named (or the config names) does not exist."""


class CheckpointError(UserError, ValueError):
    """A checkpoint that cannot be read, or does not fit the model it is loaded into."""


class DeviceError(UserError, RuntimeError):
    """What the run asks of the machine is not there (a GPU for mixed precision, a launcher's variables)."""


class TrainingError(UserError, RuntimeError):
    """A run that cannot go on for a reason the user can fix (a non-finite loss: lower the lr, clip, check data)."""
