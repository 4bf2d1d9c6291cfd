"""Confusion-matrix metrics: every output is an independent binary decision (Keras's multi_label=False).
Precision and recall at one threshold, and the area under the ROC curve over many."""

from __future__ import annotations

import numpy as np

from nntrain.engine.metrics.base import (
    METRICS,
    Metric,
    align,
    broadcast_weight,
    check_threshold,
    divide_no_nan,
    sample_weights,
)
from nntrain.errors import ConfigError


class _ConfusionMetric(Metric):
    """Weighted counts of true/false positives at one threshold: a prediction is positive when y_pred > threshold,
    a label when it is non-zero. Shapes: y_true and y_pred (batch, ...) alike; (batch,) fits (batch, 1)."""

    direction = "up"

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = check_threshold(self.registered_name, threshold)
        super().__init__(name)

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}

    def _initial_state(self):
        return {"true_positives": np.zeros(()), "false_positives": np.zeros(()), "false_negatives": np.zeros(())}

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = align(self, y_true, y_pred)
        w = broadcast_weight(sample_weights(self, sample_weight, len(y_true)), y_true.shape)
        label, predicted = y_true != 0, y_pred > self.threshold
        self.state["true_positives"] += w[label & predicted].sum()
        self.state["false_positives"] += w[~label & predicted].sum()
        self.state["false_negatives"] += w[label & ~predicted].sum()


@METRICS.register("precision")
class Precision(_ConfusionMetric):
    """tp / (tp + fp): of the outputs predicted positive, the share that are; 0.0 when none is predicted positive."""

    def result(self) -> float:
        tp = self.state["true_positives"]
        return float(divide_no_nan(tp, tp + self.state["false_positives"]))


@METRICS.register("recall")
class Recall(_ConfusionMetric):
    """tp / (tp + fn): of the positive labels, the share predicted positive; 0.0 when there is no positive label."""

    def result(self) -> float:
        tp = self.state["true_positives"]
        return float(divide_no_nan(tp, tp + self.state["false_negatives"]))


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
        y_true, y_pred = align(self, y_true, y_pred)
        w = broadcast_weight(sample_weights(self, sample_weight, len(y_true)), y_true.shape).ravel()
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
        tpr = divide_no_nan(s["true_positives"], s["true_positives"] + s["false_negatives"])
        fpr = divide_no_nan(s["false_positives"], s["false_positives"] + s["true_negatives"])
        return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))
