"""Which way is better for a logged value, and whether a new value improves on the best so far.

One rule for every consumer: early_stopping, reduce_lr_on_plateau, model_checkpoint, best.h5, the "best" entries
of metrics.json, kfold's best epoch and `nntrain runs` sorting all ask `direction` and `is_improvement`. Each metric
class declares its `direction` ("up": higher is better, like accuracy or R²; "down": lower is better, like MAE);
every loss goes down.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nntrain.engine.metrics import METRICS
from nntrain.errors import ConfigError

UP, DOWN = "up", "down"
MODES = {"min": DOWN, "max": UP}


def direction(key: str) -> str:
    """"up" or "down" for a logged key: "loss", "val_loss", "accuracy", "val_out_r2_score", "val_top_k"...

    The key may carry a "val_" prefix and an output-name prefix ("main_accuracy"); the longest registered metric
    spelling the key ends with decides. Keys that name no metric (a custom `name:`) go down, as in Keras.
    """
    name = key.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return DOWN
    best = ""
    for spelling in METRICS.names(aliases=True):
        if (name == spelling or name.endswith("_" + spelling)) and len(spelling) > len(best):
            best = spelling
    return METRICS.get(best).direction if best else DOWN


def resolve(monitor: str, mode: str = "auto") -> str:
    """The direction of `monitor` under a callback's `mode`: auto (the metric's own), min or max."""
    if mode == "auto":
        return direction(monitor)
    if mode not in MODES:
        raise ConfigError(f"mode must be auto, min or max, got {mode!r}")
    return MODES[mode]


def is_improvement(value: float, best: float | None, way: str, min_delta: float = 0.0) -> bool:
    """True when `value` beats `best` by more than `min_delta` in direction `way` (Keras's rule); any finite value
    improves on None, and NaN never improves."""
    if value is None or math.isnan(value):
        return False
    if best is None:
        return True
    delta = abs(min_delta)
    return value - delta > best if way == UP else value + delta < best


def best_epoch(values: Sequence[float], way: str) -> tuple[float, int] | None:
    """(best value, its 0-based index) of a per-epoch curve: the first epoch that no later epoch improves on,
    exactly as a monitoring callback would pick it; None when no value is finite."""
    best = None
    for i, v in enumerate(values):
        if isinstance(v, (int, float)) and math.isfinite(v) and is_improvement(float(v), best and best[0], way):
            best = (float(v), i)
    return best
