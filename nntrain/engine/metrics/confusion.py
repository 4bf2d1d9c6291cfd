"""Confusion-matrix metrics: every output is an independent binary decision (Keras's multi_label=False).
Precision and recall at one threshold, and the area under the ROC or precision-recall curve over many.

Decisions follow Keras 3: a label is positive when it is non-zero (a soft label 0.2 is a positive, weighted 1,
not 0.2), and a prediction is positive when y_pred > threshold compared in the prediction's own float type, so
a float32 prediction equal to float32(0.3) is above a threshold of 0.3 (as for binary_accuracy)."""

from __future__ import annotations

import numpy as np

from nntrain.engine.metrics.base import (
    METRICS,
    Metric,
    aligned,
    broadcast_weight,
    check_threshold,
    divide_no_nan,
    sample_weights,
)
from nntrain.errors import ConfigError
from nntrain.registry import did_you_mean

CURVES = ("ROC", "PR")
SUMMATIONS = ("interpolation", "minoring", "majoring")


def labels_and_scores(metric: Metric, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """(positive labels as bool, predictions in their own float type) of one shape; integer predictions become
    float64. Shapes: (batch, ...) alike; (batch,) labels fit (batch, 1) predictions."""
    y_true, y_pred = aligned(metric, y_true, y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(np.float64)
    return y_true != 0, y_pred


class _ConfusionMetric(Metric):
    """Weighted counts of true/false positives at one threshold (see the module docstring for the decisions).
    Shapes: y_true and y_pred (batch, ...) alike; (batch,) fits (batch, 1)."""

    direction = "up"

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = check_threshold(self.registered_name, threshold)
        super().__init__(name)

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}

    def _initial_state(self):
        return {"true_positives": np.zeros(()), "false_positives": np.zeros(()), "false_negatives": np.zeros(())}

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        label, y_pred = labels_and_scores(self, y_true, y_pred)
        w = broadcast_weight(sample_weights(self, sample_weight, len(label)), label.shape)
        predicted = y_pred > y_pred.dtype.type(self.threshold)  # Keras compares float32 with float32
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


def _choice(argument: str, value, choices: tuple[str, ...]) -> str:
    """`value` as spelled in `choices` (case-insensitive), else a ConfigError with the closest match."""
    for choice in choices:
        if isinstance(value, str) and value.lower() == choice.lower():
            return choice
    raise ConfigError(f"auc({argument}=...) expects one of {', '.join(choices)}, got {argument}={value!r}"
                      f"{did_you_mean(str(value), list(choices))}")


@METRICS.register("auc")
class AUC(Metric):
    """Area under the ROC or precision-recall curve, from confusion counts at `num_thresholds` evenly spaced
    thresholds, as Keras's AUC computes it.

    Thresholds are -eps, 1/(n-1), ..., (n-2)/(n-1), 1+eps (eps = 1e-7), so the curve runs from "everything
    positive" to "nothing positive". Predictions are clipped to [0, 1]; a prediction p is positive at every
    threshold below bucket(p) = ceil(p * (n-1)) - 1, computed in p's own float type as Keras does, so a float32
    prediction that lies exactly on a threshold lands where Keras puts it. Labels count as positive when non-zero.

    Summation (Keras's `summation_method`): "interpolation" is the trapezoidal rule over (false positive rate,
    recall) for ROC, and for PR the Davis & Goadrich interpolation Keras uses (true and false positives vary
    linearly between thresholds, precision does not); "minoring" and "majoring" are Riemann sums with the lower or
    higher of each interval's two end heights (recall for ROC, precision for PR).

    Args:
        num_thresholds: number of thresholds, at least 2 (Keras default 200).
        curve: "ROC" (default) or "PR".
        summation_method: "interpolation" (default), "minoring" or "majoring".

    Shapes: y_true and y_pred (batch, ...) alike; every output counts as one binary decision.
    """

    direction = "up"

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str | None = None):
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) or num_thresholds < 2:
            raise ConfigError(f"auc(num_thresholds=...) expects an integer >= 2, got num_thresholds={num_thresholds!r}")
        self.num_thresholds = int(num_thresholds)
        self.curve = _choice("curve", curve, CURVES)
        self.summation_method = _choice("summation_method", summation_method, SUMMATIONS)
        super().__init__(name)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                "summation_method": self.summation_method}

    def _initial_state(self):
        n = self.num_thresholds
        return {key: np.zeros(n) for key in ("true_positives", "false_positives", "true_negatives", "false_negatives")}

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        label, y_pred = labels_and_scores(self, y_true, y_pred)
        w = broadcast_weight(sample_weights(self, sample_weight, len(label)), label.shape).ravel()
        label, y_pred = label.ravel(), np.clip(y_pred.ravel(), 0, 1)
        n = self.num_thresholds
        # Threshold i (1 <= i <= n-2) is i/(n-1), and y_pred > i/(n-1) exactly for i <= ceil(y_pred*(n-1)) - 1;
        # the product is rounded in y_pred's type, as Keras rounds it in float32. Bucket 0 also holds y_pred = 0,
        # which is above the first threshold, -eps.
        bucket = np.clip(np.ceil(y_pred * y_pred.dtype.type(n - 1)).astype(np.intp) - 1, 0, n - 2)
        for weight, name, complement in ((np.where(label, w, 0.0), "true_positives", "false_negatives"),
                                         (np.where(label, 0.0, w), "false_positives", "true_negatives")):
            per_bucket = np.bincount(bucket, weights=weight, minlength=n - 1)
            above = np.append(np.cumsum(per_bucket[::-1])[::-1], 0.0)  # threshold 1+eps: nothing is above
            self.state[name] += above
            self.state[complement] += weight.sum() - above

    def result(self) -> float:
        s = self.state
        tp, fp, fn = s["true_positives"], s["false_positives"], s["false_negatives"]
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return _interpolated_pr_auc(tp, fp, fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + s["true_negatives"]), recall
        else:
            x, y = recall, divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        else:
            heights = (np.minimum if self.summation_method == "minoring" else np.maximum)(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))


def _interpolated_pr_auc(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
    """Area under the PR curve with true positives and predicted positives P = tp + fp linear between thresholds
    (Davis & Goadrich 2006, in the closed form Keras uses). Between thresholds A and B, precision is
    (tp_A + slope * (P - P_A)) / P with slope = dtp / dP, and its integral over recall is
    slope * (dtp + intercept * log(P_A / P_B)) / (tp_B + fn_B), intercept = tp_B - slope * P_B.

    Args:
        tp, fp, fn: (num_thresholds,) weighted counts at each threshold, thresholds increasing.
    """
    p = tp + fp
    dtp, dp = tp[:-1] - tp[1:], p[:-1] - p[1:]
    slope = divide_no_nan(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)  # where P_B = 0 the precision is constant: no log term
    ratio = np.where(both, divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
    return float(np.sum(divide_no_nan(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))))
