"""The few exception types nntrain raises for problems a user can fix (their input, or where runs are written).

Library code raises these with a message that names the thing, the value received and what was expected.
Only the CLI turns them into a red message and exit code 2.
"""

from __future__ import annotations


class NNTrainError(Exception):
    """Base class: a problem in the user's input (config, data, checkpoint, shapes).

    Where the problem lies travels with the error as data, so the config points at its FILE:LINE:COL without
    reading the message.

    Attributes:
        path: key path of the config entry at fault, e.g. ("model", "layers", 2, "units"), or () where the raiser
            cannot know it (the engine knows no config).
        layer: name of the model layer, input or output the problem is about, or None; the config finds its entry.
        located: True once the message starts with the entry's FILE:LINE:COL, so it is never prefixed twice.
    """

    def __init__(self, message: str = "", path: tuple = (), layer: str | None = None):
        super().__init__(message)
        self.path = tuple(path)
        self.layer = layer
        self.located = False


class ConfigError(NNTrainError):
    """A bad setting: unknown name, wrong type, out-of-range value."""


class ShapeError(ConfigError):
    """Shapes that cannot fit: a layer's input, labels against a loss, features against the model input."""


class DataError(NNTrainError):
    """Bad or missing data: file not found, missing column, non-numeric value, NaN, label out of range."""


class CheckpointError(NNTrainError):
    """A checkpoint that is missing, corrupt, of an unknown layout, or from another model."""


class StorageError(NNTrainError, OSError):
    """A file nntrain must write cannot be written: the disk is full, no permission, a name too long. Still an
    OSError, so code that handles failed writes handles it."""


class DataWarning(UserWarning):
    """Something in the data the user should know and nntrain handled as documented (categories a model never saw
    in training). The console script prints it as one `warning:` line on stderr."""
