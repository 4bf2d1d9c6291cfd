"""Accuracy-like metrics: binary, categorical, sparse categorical, Keras's shape-guessing "accuracy", and top-k."""

from __future__ import annotations

import numpy as np

from nntrain.engine.metrics.base import (
    METRICS,
    MeanMetric,
    Metric,
    aligned,
    check_threshold,
    class_labels,
    per_sample_mean,
)
from nntrain.errors import ConfigError, ShapeError


def _check_k(metric: str, k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ConfigError(f"{metric}(k=...) expects a positive integer, got k={k!r}")
    return int(k)


def _binary_hits(metric: Metric, y_true, y_pred, threshold: float) -> np.ndarray:
    y_true, y_pred = aligned(metric, y_true, y_pred)  # 0.5 and the 0/1 labels compare exactly in any float type
    return per_sample_mean(y_true == (y_pred > threshold))


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
    return per_sample_mean(_one_hot_classes(metric, y_true, y_pred) == y_pred.argmax(axis=-1))


def _sparse_hits(metric: Metric, y_true, y_pred) -> np.ndarray:
    y_pred = np.asarray(y_pred)
    return per_sample_mean(class_labels(metric, y_true, y_pred) == y_pred.argmax(axis=-1))


@METRICS.register("binary_accuracy")
class BinaryAccuracy(MeanMetric):
    """Share of outputs where (y_pred > threshold) equals the 0/1 label; multi-output samples average their outputs.

    Shapes: y_true and y_pred (batch, ...) alike; (batch,) labels also fit (batch, 1).
    """

    direction = "up"

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = check_threshold("binary_accuracy", threshold)
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
    """Accuracy that picks its kind from each batch's shapes, by Keras 3's rule (keras compile_utils).

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
        return per_sample_mean(_in_top_k(self._labels(y_true, y_pred), y_pred, self.k))


@METRICS.register("top_k_categorical_accuracy", "top_k")
class TopKCategoricalAccuracy(_TopK):
    """Top-k accuracy for one-hot labels. Shapes: y_true (one-hot) and y_pred (batch, classes) alike."""

    def _labels(self, y_true, y_pred):
        return _one_hot_classes(self, y_true, y_pred)


@METRICS.register("sparse_top_k_categorical_accuracy", "sparse_top_k")
class SparseTopKCategoricalAccuracy(_TopK):
    """Top-k accuracy for integer labels. Shapes: y_pred (batch, classes); y_true (batch,) or (batch, 1)."""

    def _labels(self, y_true, y_pred):
        return class_labels(self, y_true, y_pred)
