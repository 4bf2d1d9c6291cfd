"""The few exception types nntrain raises for problems a user can fix.

Library code raises these with a message that names the thing, the value received and what was expected.
Only the CLI turns them into a red message and exit code 2.
"""

from __future__ import annotations


class NNTrainError(Exception):
    """Base class: a problem in the user's input (config, data, checkpoint, shapes)."""


class ConfigError(NNTrainError):
    """A bad setting: unknown name, wrong type, out-of-range value.

    Attributes:
        path: key path inside the config where the problem is, e.g. ("model", "layers", 2, "units"), or ().
    """

    def __init__(self, message: str, path: tuple = ()):
        super().__init__(message)
        self.path = tuple(path)


class ShapeError(ConfigError):
    """Shapes that cannot fit: a layer's input, labels against a loss, features against the model input."""


class DataError(NNTrainError):
    """Bad or missing data: file not found, missing column, non-numeric value, NaN, label out of range."""


class CheckpointError(NNTrainError):
    """A checkpoint that is missing, corrupt, of an unknown layout, or from another model."""
