"""Regression metrics: mean absolute error, mean squared error, its root, and R²."""

from __future__ import annotations

import numpy as np

from nntrain.engine.metrics.base import (
    METRICS,
    MeanMetric,
    Metric,
    align,
    aligned,
    divide_no_nan,
    per_sample_mean,
    sample_weights,
)
from nntrain.errors import ShapeError


class _MeanError(MeanMetric):
    """Mean of f(y_pred - y_true), per sample over its outputs, then over samples, for the ufunc f of a subclass.
    Shapes: (batch, ...) alike."""

    direction = "down"
    error: np.ufunc  # np.abs, np.square

    def _values(self, y_true, y_pred):
        y_true, y_pred = aligned(self, y_true, y_pred)
        diff = np.subtract(y_pred, y_true, dtype=np.float64)
        return per_sample_mean(self.error(diff, out=diff))


@METRICS.register("mae", "mean_absolute_error")
class MeanAbsoluteError(_MeanError):
    """Mean of |y_pred - y_true|, per sample over its outputs, then over samples. Shapes: (batch, ...) alike."""

    error = staticmethod(np.abs)


@METRICS.register("mse", "mean_squared_error")
class MeanSquaredError(_MeanError):
    """Mean of (y_pred - y_true)^2, per sample over its outputs, then over samples. Shapes: (batch, ...) alike."""

    error = staticmethod(np.square)


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
    exactly (Keras 3: NaN, docs/metrics.md says why) and 0.0 otherwise (as Keras), so the result stays finite.

    Shapes: y_true and y_pred (batch,) or (batch, outputs) alike; further axes count as more outputs.
    """

    direction = "up"

    def _initial_state(self):
        # Width unknown until the first batch: zero-size arrays.
        return {key: np.zeros(0) for key in ("sum", "squared_sum", "residual", "count")}

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = align(self, y_true, y_pred)
        y_true, y_pred = y_true.reshape(len(y_true), -1), y_pred.reshape(len(y_pred), -1)
        w = sample_weights(self, sample_weight, len(y_true))[:, None]
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
        scores = np.where(constant, np.where(s["residual"] == 0, 1.0, 0.0), 1 - divide_no_nan(s["residual"], total))
        return float(scores.mean())
