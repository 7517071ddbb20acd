"""The project's own errors, which every tool turns into one line ``error: ...`` and a non-zero exit
(:func:`mae_core.cli.tool_main`). Torch-free, so a tool can report them without importing the model stack."""
from mae_core.overrides import ConfigError


class DataError(ValueError):
    """The data path or a file in it is not usable; the message names it."""


class CheckpointMismatchError(RuntimeError):
    """Keys of a checkpoint do not fit a model; the message lists them."""


__all__ = ["CheckpointMismatchError", "ConfigError", "DataError"]
