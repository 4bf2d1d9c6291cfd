"""Streaming metrics: each batch adds to float64 sums, so an epoch's result is exact whatever the batch sizes.

    metric.reset()
    for y_true, y_pred, w in batches:
        metric.update(y_true, y_pred, sample_weight=w)
    metric.result()       # e.g. accuracy over every sample of the epoch; a short last batch weighs by its size

`get_state`/`set_state` expose the sums for checkpoints. Names follow Keras: `resolve_metric` turns "accuracy" into
the binary, sparse or categorical variant the loss implies, and keeps "accuracy" as the key in the history.
docs/metrics.md is the user's list of metrics, with where they differ from Keras 3 and why.
"""

from __future__ import annotations

import math

import numpy as np

from nntrain.engine.losses import LOSSES, Loss
from nntrain.errors import CheckpointError, ConfigError, ShapeError
from nntrain.registry import Registry

METRICS = Registry("metric")


class Metric:
    """Base class: float64 state arrays, reset/update/result, config and checkpoint state.

    Subclasses implement `_initial_state`, `update` and `result`, and extend `get_config` with their arguments.

    Attributes:
        name: the key under which the result is logged (history, progress bar, checkpoints).
    """

    registered_name: str = "metric"  # set by METRICS.register
    direction: str  # "up" when higher is better (accuracy, R²), "down" when lower is (MAE); see engine/monitor.py

    def __init__(self, name: str | None = None):
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(f"{self.registered_name}(name=...) expects a non-empty string, got name={name!r}")
        self.name = name or self.registered_name
        self.reset()

    def _initial_state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget everything seen so far (start of an epoch)."""
        self.state = self._initial_state()

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Add one batch. y_true, y_pred: (batch, ...); sample_weight: (batch,) or (batch, 1), default all ones."""
        raise NotImplementedError

    def result(self) -> float:
        """The metric over everything since the last reset (0.0 before any sample)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor's arguments: `METRICS.build(registered_name, **metric.get_config())` rebuilds it."""
        return {"name": self.name}

    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of the float64 accumulators, for a checkpoint."""
        return {key: value.copy() for key, value in self.state.items()}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore accumulators saved by `get_state`."""
        expected = self._initial_state()
        if set(state) != set(expected):
            raise CheckpointError(
                f"metric {self.name!r}: saved state has keys {sorted(state)}, expected {sorted(expected)}"
            )
        restored = {}
        for key, initial in expected.items():
            value = np.asarray(state[key], dtype=np.float64)
            # A zero-size initial state (r2 before its first batch) takes whatever width was saved.
            if (initial.size and value.shape != initial.shape) or value.ndim != initial.ndim:
                raise CheckpointError(
                    f"metric {self.name!r}: saved {key!r} has shape {value.shape}, expected {initial.shape}"
                )
            restored[key] = value.copy()
        self.state = restored

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# ---------------------------------------------------------------------------------------------------------------------
# Input handling


def aligned(metric: Metric, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions as arrays of one shape; (batch,) labels fit (batch, 1) predictions."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        if y_true.size != y_pred.size or y_true.shape[:1] != y_pred.shape[:1]:
            raise ShapeError(
                f"metric {metric.name!r}: labels of shape {y_true.shape} do not fit predictions of shape "
                f"{y_pred.shape}; expected labels of shape {y_pred.shape}"
            )
        y_true = y_true.reshape(y_pred.shape)
    return y_true, y_pred


def align(metric: Metric, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """`aligned`, both as float64."""
    y_true, y_pred = aligned(metric, y_true, np.asarray(y_pred, dtype=np.float64))
    return y_true.astype(np.float64, copy=False), y_pred


def class_labels(metric: Metric, y_true, y_pred: np.ndarray) -> np.ndarray:
    """Integer class labels of shape y_pred.shape[:-1], from (batch, ...) or (batch, ..., 1) labels."""
    y_true = np.asarray(y_true)
    if y_pred.ndim < 2 or y_true.size != math.prod(y_pred.shape[:-1]):
        raise ShapeError(
            f"metric {metric.name!r}: labels of shape {y_true.shape} do not fit predictions of shape "
            f"{y_pred.shape}; expected integer class labels of shape {y_pred.shape[:-1]}"
        )
    return y_true.reshape(y_pred.shape[:-1])


def sample_weights(metric: Metric, sample_weight, batch: int) -> np.ndarray:
    """(batch,) float64 weights; None means all ones."""
    if sample_weight is None:
        return np.ones(batch)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 0:
        return np.full(batch, float(w))
    if w.shape not in ((batch,), (batch, 1)):
        raise ShapeError(
            f"metric {metric.name!r}: sample_weight of shape {w.shape} does not fit a batch of {batch}; "
            f"expected ({batch},)"
        )
    return w.reshape(batch)


def per_sample_mean(values: np.ndarray) -> np.ndarray:
    """(batch, ...) -> (batch,), the mean over the non-batch axes, in float64 (bool and float64 values of one
    element per sample come back as they are: the sums that use them count in float64)."""
    if values.ndim > 1:
        if values.size != len(values):
            return values.reshape(len(values), -1).mean(axis=1, dtype=np.float64)
        values = values.reshape(-1)  # one value per sample: its mean is itself
    return values if values.dtype == np.float64 or values.dtype == np.bool_ else values.astype(np.float64)


def broadcast_weight(w: np.ndarray, shape: tuple) -> np.ndarray:
    return np.broadcast_to(w.reshape((len(w),) + (1,) * (len(shape) - 1)), shape)


def divide_no_nan(a, b):
    """a / b, with 0 where b is 0 (Keras's divide_no_nan)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


# ---------------------------------------------------------------------------------------------------------------------
# Weighted means of a per-sample value


class MeanMetric(Metric):
    """A weighted mean of one value per sample: result = sum(w * v) / sum(w) over the epoch.

    The two sums are kept as Python floats (float64 arithmetic, as a numpy float64 would do it, without its ~1 us a
    batch of in-place updates of a 0-d array); `state` shows them as the float64 arrays checkpoints store.
    """

    def _initial_state(self):
        return {"total": np.zeros(()), "count": np.zeros(())}

    @property
    def state(self) -> dict[str, np.ndarray]:
        return {"total": np.array(self._total), "count": np.array(self._count)}

    @state.setter
    def state(self, value: dict) -> None:
        self._total, self._count = float(value["total"]), float(value["count"])

    def _values(self, y_true, y_pred) -> np.ndarray:
        """(batch,) per-sample values (float64, or bool for hit/miss metrics)."""
        raise NotImplementedError

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        values = self._values(y_true, y_pred)
        if sample_weight is None:  # the common case: a plain sum and a count
            self._total += float(np.add.reduce(values, dtype=np.float64))
            self._count += len(values)
            return
        w = sample_weights(self, sample_weight, len(values))
        self._total += float(np.dot(w, values.astype(np.float64, copy=False)))
        self._count += float(w.sum())

    def result(self) -> float:
        return self._total / self._count if self._count != 0 else 0.0


def check_threshold(metric: str, threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ConfigError(f"{metric}(threshold=...) expects a number in [0, 1], got threshold={threshold!r}")
    return float(threshold)


# ---------------------------------------------------------------------------------------------------------------------
# Names from a config


def _accuracy_kind(loss, y_pred_shape) -> str:
    if isinstance(loss, Loss):
        loss = loss.registered_name
    loss = LOSSES.canonical(loss) if isinstance(loss, str) and loss in LOSSES else loss
    shape = tuple(y_pred_shape) if y_pred_shape is not None else ()
    width = shape[-1] if shape and shape[-1] is not None else 1
    if loss == "binary_crossentropy" or width == 1:
        return "binary_accuracy"
    if loss == "sparse_categorical_crossentropy":
        return "sparse_categorical_accuracy"
    return "categorical_accuracy"


def resolve_metric(spec, loss=None, y_pred_shape=None) -> Metric:
    """A metric from a config entry, resolving "accuracy"/"acc" against the output's loss as tf.keras 2 did.

    With binary_crossentropy or a 1-wide output, accuracy is binary_accuracy (threshold 0.5); with
    sparse_categorical_crossentropy, sparse_categorical_accuracy; otherwise categorical_accuracy. Keras 3 goes by
    the shapes alone and so scores multi-label binary_crossentropy outputs with categorical accuracy (an argmax of
    several 0/1 labels); nntrain keeps the per-label rule on purpose (docs/metrics.md says why). The metric is
    named by the string the config used ("accuracy", "acc", "mae", ...), which becomes the history key.

    Args:
        spec: a metric name, a {"name": ..., **arguments} mapping, or a Metric (returned as is).
        loss: the output's loss, as a name (any alias) or a Loss; None when unknown.
        y_pred_shape: the output's shape, with or without the batch dimension; only the last entry (the width)
            is used, and () or a trailing None counts as 1 wide.

    Raises:
        ConfigError: unknown name (the message lists the closest match) or bad arguments.
    """
    if isinstance(spec, Metric):
        return spec
    kwargs: dict = {}
    if isinstance(spec, dict):
        kwargs = dict(spec)
        if "name" not in kwargs:
            raise ConfigError(f"a metric given as a mapping needs a `name` key, got {sorted(kwargs)}")
        spec = kwargs.pop("name")
    if not isinstance(spec, str):
        raise ConfigError(f"a metric is a name or a mapping with a `name` key, got {spec!r}")
    canonical = METRICS.canonical(spec)  # unknown name -> ConfigError with the closest match
    cls = METRICS.get(_accuracy_kind(loss, y_pred_shape) if canonical == "accuracy" else spec)
    try:
        return cls(name=spec, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"metric {spec!r}: {exc}") from None
