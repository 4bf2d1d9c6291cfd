"""Streaming metrics: each batch adds to float64 sums, so an epoch's result is exact whatever the batch sizes.

    metric.reset()
    for y_true, y_pred, w in batches:
        metric.update(y_true, y_pred, sample_weight=w)
    metric.result()       # e.g. accuracy over every sample of the epoch; a short last batch weighs by its size

`get_state`/`set_state` expose the sums for checkpoints. Names follow Keras: `resolve_metric` turns "accuracy" into
the binary, sparse or categorical variant the loss implies, and keeps "accuracy" as the key in the history.
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


def _align(metric: Metric, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions as float64 arrays of one shape; (batch,) labels fit (batch, 1) predictions."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        if y_true.size != y_pred.size or y_true.shape[:1] != y_pred.shape[:1]:
            raise ShapeError(
                f"metric {metric.name!r}: labels of shape {y_true.shape} do not fit predictions of shape "
                f"{y_pred.shape}; expected labels of shape {y_pred.shape}"
            )
        y_true = y_true.reshape(y_pred.shape)
    return y_true.astype(np.float64, copy=False), y_pred


def _class_labels(metric: Metric, y_true, y_pred: np.ndarray) -> np.ndarray:
    """Integer class labels of shape y_pred.shape[:-1], from (batch, ...) or (batch, ..., 1) labels."""
    y_true = np.asarray(y_true)
    if y_pred.ndim < 2 or y_true.size != math.prod(y_pred.shape[:-1]):
        raise ShapeError(
            f"metric {metric.name!r}: labels of shape {y_true.shape} do not fit predictions of shape "
            f"{y_pred.shape}; expected integer class labels of shape {y_pred.shape[:-1]}"
        )
    return y_true.reshape(y_pred.shape[:-1])


def _sample_weight(metric: Metric, sample_weight, batch: int) -> np.ndarray:
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


def _per_sample_mean(values: np.ndarray) -> np.ndarray:
    """(batch, ...) -> (batch,), the mean over the non-batch axes, in float64 (bool and float64 values of one
    element per sample come back as they are: the sums that use them count in float64)."""
    if values.ndim > 1:
        if values.size != len(values):
            return values.reshape(len(values), -1).mean(axis=1, dtype=np.float64)
        values = values.reshape(-1)  # one value per sample: its mean is itself
    return values if values.dtype == np.float64 or values.dtype == np.bool_ else values.astype(np.float64)


def _broadcast_weight(w: np.ndarray, shape: tuple) -> np.ndarray:
    return np.broadcast_to(w.reshape((len(w),) + (1,) * (len(shape) - 1)), shape)


def _divide(a, b):
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
        w = _sample_weight(self, sample_weight, len(values))
        self._total += float(np.dot(w, values.astype(np.float64, copy=False)))
        self._count += float(w.sum())

    def result(self) -> float:
        return self._total / self._count if self._count != 0 else 0.0


def _check_threshold(metric: str, threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ConfigError(f"{metric}(threshold=...) expects a number in [0, 1], got threshold={threshold!r}")
    return float(threshold)


def _check_k(metric: str, k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ConfigError(f"{metric}(k=...) expects a positive integer, got k={k!r}")
    return int(k)


def _aligned(metric: Metric, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Like `_align`, without the conversion to float64 (for metrics that compare or subtract in float64)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        if y_true.size != y_pred.size or y_true.shape[:1] != y_pred.shape[:1]:
            raise ShapeError(
                f"metric {metric.name!r}: labels of shape {y_true.shape} do not fit predictions of shape "
                f"{y_pred.shape}; expected labels of shape {y_pred.shape}"
            )
        y_true = y_true.reshape(y_pred.shape)
    return y_true, y_pred


def _binary_hits(metric: Metric, y_true, y_pred, threshold: float) -> np.ndarray:
    y_true, y_pred = _aligned(metric, y_true, y_pred)  # 0.5 and the 0/1 labels compare exactly in any float type
    return _per_sample_mean(y_true == (y_pred > threshold))


def _one_hot_classes(metric: Metric, y_true, y_pred) -> np.ndarray:
    """The class each one-hot label marks (its argmax): shape y_pred.shape[:-1]."""
    y_true = np.asarray(y_true)
    if y_true.shape != y_pred.shape or y_pred.ndim < 2:
        raise ShapeError(
            f"metric {metric.name!r}: labels of shape {y_true.shape} do not fit predictions of shape "
            f"{y_pred.shape}; expected one-hot labels of shape {y_pred.shape}"
        )
    return y_true.argmax(axis=-1)


def _categorical_hits(metric: Metric, y_true, y_pred) -> np.ndarray:
    y_pred = np.asarray(y_pred)
    return _per_sample_mean(_one_hot_classes(metric, y_true, y_pred) == y_pred.argmax(axis=-1))


def _sparse_hits(metric: Metric, y_true, y_pred) -> np.ndarray:
    y_pred = np.asarray(y_pred)
    return _per_sample_mean(_class_labels(metric, y_true, y_pred) == y_pred.argmax(axis=-1))


@METRICS.register("binary_accuracy")
class BinaryAccuracy(MeanMetric):
    """Share of outputs where (y_pred > threshold) equals the 0/1 label; multi-output samples average their outputs.

    Shapes: y_true and y_pred (batch, ...) alike; (batch,) labels also fit (batch, 1).
    """

    direction = "up"

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = _check_threshold("binary_accuracy", threshold)
        super().__init__(name)

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}

    def _values(self, y_true, y_pred):
        return _binary_hits(self, y_true, y_pred, self.threshold)


@METRICS.register("categorical_accuracy")
class CategoricalAccuracy(MeanMetric):
    """Share of samples whose predicted class (argmax) is the one-hot label's class.

    Shapes: y_true (one-hot) and y_pred (batch, classes) alike, or (batch, ..., classes).
    """

    direction = "up"

    def _values(self, y_true, y_pred):
        return _categorical_hits(self, y_true, y_pred)


@METRICS.register("sparse_categorical_accuracy")
class SparseCategoricalAccuracy(MeanMetric):
    """Share of samples whose predicted class (argmax) equals the integer label.

    Shapes: y_pred (batch, classes); y_true (batch,) or (batch, 1) class indices.
    """

    direction = "up"

    def _values(self, y_true, y_pred):
        return _sparse_hits(self, y_true, y_pred)


@METRICS.register("accuracy", "acc")
class Accuracy(MeanMetric):
    """Accuracy that picks its kind from each batch's shapes, as Keras does without a loss to go by.

    A 1-wide output is binary (threshold 0.5); labels with one axis fewer than y_pred, or 1 wide against a wider
    y_pred, are class indices; otherwise labels are one-hot. `resolve_metric` chooses from the loss instead.
    """

    direction = "up"

    def _values(self, y_true, y_pred):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if y_pred.ndim < 2 or y_pred.shape[-1] == 1:
            return _binary_hits(self, y_true, y_pred, 0.5)
        if y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
            return _sparse_hits(self, y_true, y_pred)
        return _categorical_hits(self, y_true, y_pred)


def _in_top_k(labels: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Whether each label's score is among the k largest; ties at the k-th score count as in (like Keras)."""
    labels = labels.astype(np.intp)
    if k >= y_pred.shape[-1]:
        return np.ones(labels.shape, bool)
    kth_largest = np.partition(y_pred, -k, axis=-1)[..., -k]
    return np.take_along_axis(y_pred, labels[..., None], axis=-1)[..., 0] >= kth_largest


class _TopK(MeanMetric):
    """Share of samples whose label's class is among the k highest predictions; subclasses read the labels."""

    direction = "up"

    def __init__(self, k: int = 5, name: str | None = None):
        self.k = _check_k(self.registered_name, k)
        super().__init__(name)

    def get_config(self) -> dict:
        return {**super().get_config(), "k": self.k}

    def _labels(self, y_true, y_pred) -> np.ndarray:
        raise NotImplementedError

    def _values(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        return _per_sample_mean(_in_top_k(self._labels(y_true, y_pred), y_pred, self.k))


@METRICS.register("top_k_categorical_accuracy", "top_k")
class TopKCategoricalAccuracy(_TopK):
    """Top-k accuracy for one-hot labels. Shapes: y_true (one-hot) and y_pred (batch, classes) alike."""

    def _labels(self, y_true, y_pred):
        return _one_hot_classes(self, y_true, y_pred)


@METRICS.register("sparse_top_k_categorical_accuracy", "sparse_top_k")
class SparseTopKCategoricalAccuracy(_TopK):
    """Top-k accuracy for integer labels. Shapes: y_pred (batch, classes); y_true (batch,) or (batch, 1)."""

    def _labels(self, y_true, y_pred):
        return _class_labels(self, y_true, y_pred)


# ---------------------------------------------------------------------------------------------------------------------
# Regression


@METRICS.register("mae", "mean_absolute_error")
class MeanAbsoluteError(MeanMetric):
    """Mean of |y_pred - y_true|, per sample over its outputs, then over samples. Shapes: (batch, ...) alike."""

    direction = "down"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _aligned(self, y_true, y_pred)
        diff = np.subtract(y_pred, y_true, dtype=np.float64)
        return _per_sample_mean(np.abs(diff, out=diff))


@METRICS.register("mse", "mean_squared_error")
class MeanSquaredError(MeanMetric):
    """Mean of (y_pred - y_true)^2, per sample over its outputs, then over samples. Shapes: (batch, ...) alike."""

    direction = "down"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _aligned(self, y_true, y_pred)
        diff = np.subtract(y_pred, y_true, dtype=np.float64)
        return _per_sample_mean(np.square(diff, out=diff))


@METRICS.register("rmse", "root_mean_squared_error")
class RootMeanSquaredError(MeanSquaredError):
    """sqrt of the epoch's exact mean squared error (not a mean of per-batch roots). Shapes: (batch, ...) alike."""

    def result(self) -> float:
        return float(np.sqrt(super().result()))


@METRICS.register("r2", "r2_score")
class R2Score(Metric):
    """Coefficient of determination, per output column, averaged uniformly over columns (Keras R2Score defaults).

    For each column: r2 = 1 - sum w (y - p)^2 / sum w (y - mean_w(y))^2, streamed exactly through the sums
    sum w y, sum w y^2, sum w (y - p)^2 and sum w. A constant target (zero variance) scores 1.0 when predicted
    exactly and 0.0 otherwise, so the result stays finite.

    Shapes: y_true and y_pred (batch,) or (batch, outputs) alike; further axes count as more outputs.
    """

    direction = "up"

    def _initial_state(self):
        # Width unknown until the first batch: zero-size arrays.
        return {key: np.zeros(0) for key in ("sum", "squared_sum", "residual", "count")}

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = _align(self, y_true, y_pred)
        y_true, y_pred = y_true.reshape(len(y_true), -1), y_pred.reshape(len(y_pred), -1)
        w = _sample_weight(self, sample_weight, len(y_true))[:, None]
        width = y_true.shape[1]
        if self.state["sum"].size == 0:
            self.state = {key: np.zeros(width) for key in self.state}
        elif self.state["sum"].size != width:
            raise ShapeError(
                f"metric {self.name!r}: batch has {width} outputs per sample, earlier batches had "
                f"{self.state['sum'].size}"
            )
        self.state["sum"] += (w * y_true).sum(axis=0)
        self.state["squared_sum"] += (w * y_true**2).sum(axis=0)
        self.state["residual"] += (w * (y_true - y_pred) ** 2).sum(axis=0)
        self.state["count"] += np.broadcast_to(w, y_true.shape).sum(axis=0)

    def result(self) -> float:
        s = self.state
        if s["sum"].size == 0 or not np.all(s["count"] > 0):
            return 0.0
        total = s["squared_sum"] - s["sum"] ** 2 / s["count"]
        constant = total <= 1e-12 * s["squared_sum"]  # zero variance up to rounding
        scores = np.where(constant, np.where(s["residual"] == 0, 1.0, 0.0), 1 - _divide(s["residual"], total))
        return float(scores.mean())


# ---------------------------------------------------------------------------------------------------------------------
# Confusion-matrix metrics: every output is an independent binary decision (Keras's multi_label=False)


class _ConfusionMetric(Metric):
    """Weighted counts of true/false positives at one threshold: a prediction is positive when y_pred > threshold,
    a label when it is non-zero. Shapes: y_true and y_pred (batch, ...) alike; (batch,) fits (batch, 1)."""

    direction = "up"

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = _check_threshold(self.registered_name, threshold)
        super().__init__(name)

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}

    def _initial_state(self):
        return {"true_positives": np.zeros(()), "false_positives": np.zeros(()), "false_negatives": np.zeros(())}

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = _align(self, y_true, y_pred)
        w = _broadcast_weight(_sample_weight(self, sample_weight, len(y_true)), y_true.shape)
        label, predicted = y_true != 0, y_pred > self.threshold
        self.state["true_positives"] += w[label & predicted].sum()
        self.state["false_positives"] += w[~label & predicted].sum()
        self.state["false_negatives"] += w[label & ~predicted].sum()


@METRICS.register("precision")
class Precision(_ConfusionMetric):
    """tp / (tp + fp): of the outputs predicted positive, the share that are; 0.0 when none is predicted positive."""

    def result(self) -> float:
        tp = self.state["true_positives"]
        return float(_divide(tp, tp + self.state["false_positives"]))


@METRICS.register("recall")
class Recall(_ConfusionMetric):
    """tp / (tp + fn): of the positive labels, the share predicted positive; 0.0 when there is no positive label."""

    def result(self) -> float:
        tp = self.state["true_positives"]
        return float(_divide(tp, tp + self.state["false_negatives"]))


@METRICS.register("auc")
class AUC(Metric):
    """Area under the ROC curve, from confusion counts at `num_thresholds` evenly spaced thresholds (Keras AUC).

    Thresholds are -eps, 1/(n-1), ..., (n-2)/(n-1), 1+eps (eps = 1e-7), so the curve runs from (1, 1) to (0, 0);
    a prediction is positive at threshold t when y_pred > t. The area is the trapezoidal sum over the points
    (false positive rate, true positive rate) -- Keras's default "interpolation" summation for ROC.
    Labels weigh as positives by y and as negatives by 1 - y (0/1 labels as usual); predictions are clipped to [0, 1].

    Args:
        num_thresholds: number of thresholds, at least 2 (Keras default 200).

    Shapes: y_true and y_pred (batch, ...) alike; every output counts as one binary decision.
    """

    direction = "up"

    def __init__(self, num_thresholds: int = 200, name: str | None = None):
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) or num_thresholds < 2:
            raise ConfigError(f"auc(num_thresholds=...) expects an integer >= 2, got num_thresholds={num_thresholds!r}")
        self.num_thresholds = int(num_thresholds)
        super().__init__(name)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_thresholds": self.num_thresholds}

    def _initial_state(self):
        n = self.num_thresholds
        return {key: np.zeros(n) for key in ("true_positives", "false_positives", "true_negatives", "false_negatives")}

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = _align(self, y_true, y_pred)
        w = _broadcast_weight(_sample_weight(self, sample_weight, len(y_true)), y_true.shape).ravel()
        y_true, y_pred = y_true.ravel(), np.clip(y_pred.ravel(), 0.0, 1.0)
        n = self.num_thresholds
        # Threshold i (1 <= i <= n-2) is i/(n-1); y_pred > i/(n-1) exactly for i <= ceil(y_pred*(n-1)) - 1, so
        # bucket each prediction there and count it positive at every threshold up to its bucket.
        bucket = np.clip(np.ceil(y_pred * (n - 1)).astype(np.intp) - 1, 0, n - 2)
        for positive, name, complement in ((y_true * w, "true_positives", "false_negatives"),
                                           ((1 - y_true) * w, "false_positives", "true_negatives")):
            per_bucket = np.bincount(bucket, weights=positive, minlength=n - 1)
            above = np.append(np.cumsum(per_bucket[::-1])[::-1], 0.0)  # threshold 1+eps: nothing is above
            self.state[name] += above
            self.state[complement] += positive.sum() - above

    def result(self) -> float:
        s = self.state
        tpr = _divide(s["true_positives"], s["true_positives"] + s["false_negatives"])
        fpr = _divide(s["false_positives"], s["false_positives"] + s["true_negatives"])
        return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))


# ---------------------------------------------------------------------------------------------------------------------
# Names from a config


def _accuracy_kind(loss, y_pred_shape) -> type[MeanMetric]:
    if isinstance(loss, Loss):
        loss = loss.registered_name
    loss = LOSSES.canonical(loss) if isinstance(loss, str) and loss in LOSSES else loss
    shape = tuple(y_pred_shape) if y_pred_shape is not None else ()
    width = shape[-1] if shape and shape[-1] is not None else 1
    if loss == "binary_crossentropy" or width == 1:
        return BinaryAccuracy
    if loss == "sparse_categorical_crossentropy":
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def resolve_metric(spec, loss=None, y_pred_shape=None) -> Metric:
    """A metric from a config entry, resolving "accuracy"/"acc" against the output's loss like Keras.

    With binary_crossentropy or a 1-wide output, accuracy is binary_accuracy (threshold 0.5); with
    sparse_categorical_crossentropy, sparse_categorical_accuracy; otherwise categorical_accuracy. The metric is
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
    cls = _accuracy_kind(loss, y_pred_shape) if canonical == "accuracy" else METRICS.get(spec)
    try:
        return cls(name=spec, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"metric {spec!r}: {exc}") from None
