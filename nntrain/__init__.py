"""nntrain: train Keras-style neural networks from one YAML file, on a small NumPy engine.

From Python (the same functions the `nntrain` commands call)::

    import nntrain
    run = nntrain.fit("configs/iris.yaml", overrides={"training.epochs": 20})   # -> nntrain.Run
    run = nntrain.load_run("runs/iris")                 # a run folder (best checkpoint) or a checkpoint file
    run.predict(df)                                     # DataFrame / dict of columns / array of raw values
    run.predict(df, proba=True), run.classes            # probabilities, in the order of the class names
    run.evaluate()                                      # loss and metrics on the test split, as a dict
    run.history, run.history_frame()                    # one dict per epoch; a pandas DataFrame
    run.model, run.config                               # the engine Model; the resolved config
    run.export("iris.keras")                            # for keras.models.load_model, + iris.preprocessing.json

The engine, for building models by hand::

    model = nntrain.Sequential([nntrain.layers.Dense(8, activation="relu"), nntrain.layers.Dense(3)],
                               input_shape=[4])

Errors a user can cause are nntrain.NNTrainError (ConfigError, DataError, CheckpointError, StorageError).
Everything here loads on first use, so `import nntrain` costs almost nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "fit": "nntrain.api",
    "load_run": "nntrain.api",
    "Run": "nntrain.api",
    "Model": "nntrain.engine.model",
    "Sequential": "nntrain.engine.model",
    "Input": "nntrain.engine.layers",
    "NNTrainError": "nntrain.errors",
    "ConfigError": "nntrain.errors",
    "DataError": "nntrain.errors",
    "CheckpointError": "nntrain.errors",
    "StorageError": "nntrain.errors",
}
_MODULES = {"layers": "nntrain.layers"}

__all__ = ["__version__", "fit", "load_run", "Run", "Model", "Sequential", "Input", "layers", "NNTrainError",
           "ConfigError", "DataError", "CheckpointError", "StorageError"]

if TYPE_CHECKING:  # pragma: no cover
    from nntrain import layers
    from nntrain.api import Run, fit, load_run
    from nntrain.engine.layers import Input
    from nntrain.engine.model import Model, Sequential
    from nntrain.errors import CheckpointError, ConfigError, DataError, NNTrainError, StorageError


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = import_module(_MODULES[name])
    else:
        raise AttributeError(f"module 'nntrain' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | set(_MODULES))
