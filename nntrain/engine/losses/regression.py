"""Regression losses: mean squared error, mean absolute error, Huber."""

from __future__ import annotations

import numpy as np

from nntrain.engine.losses.base import LOSSES, ElementwiseLoss, labels_like, per_sample_mean, spread
from nntrain.errors import ConfigError


@LOSSES.register("mean_squared_error", "mse")
class MeanSquaredError(ElementwiseLoss):
    """Mean squared error: per_sample = mean_j (p_j - y_j)^2.

    Shapes: y_true and y_pred (batch, ...) alike; (batch,) labels also fit (batch, 1) predictions.
    """

    def forward_checked(self, y_true, p):
        # the difference is computed once and shared by the value and the gradient
        diff = p - labels_like(y_true, p)
        per_sample = per_sample_mean(np.square(diff))

        def backward(g):
            return diff * spread(2 * g, diff.shape, p.dtype)  # 2 * (p - y) * g / n; doubling is exact

        return per_sample, backward


@LOSSES.register("mean_absolute_error", "mae")
class MeanAbsoluteError(ElementwiseLoss):
    """Mean absolute error: per_sample = mean_j |p_j - y_j| (gradient sign(p - y), 0 where equal).

    Shapes: y_true and y_pred (batch, ...) alike; (batch,) labels also fit (batch, 1) predictions.
    """

    def _value(self, y, p):
        return np.abs(p - y)

    def _grad(self, y, p):
        return np.sign(p - y)


@LOSSES.register("huber", "huber_loss")
class Huber(ElementwiseLoss):
    """Huber loss: with e = p - y, per_sample = mean_j h(e_j) where
    h(e) = 0.5 * e^2 if |e| <= delta, else delta * (|e| - 0.5 * delta). Gradient clip(e, -delta, delta).

    Args:
        delta: positive number, where the loss turns from quadratic to linear (Keras default 1.0).

    Shapes: y_true and y_pred (batch, ...) alike; (batch,) labels also fit (batch, 1) predictions.
    """

    def __init__(self, delta: float = 1.0):
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
            raise ConfigError(f"huber(delta=...) expects a positive number, got delta={delta!r}")
        self.delta = float(delta)

    def get_config(self) -> dict:
        return {"delta": self.delta}

    def _value(self, y, p):
        abs_error = np.abs(p - y)
        quadratic = np.minimum(abs_error, p.dtype.type(self.delta))
        return 0.5 * np.square(quadratic) + p.dtype.type(self.delta) * (abs_error - quadratic)

    def _grad(self, y, p):
        return np.clip(p - y, -self.delta, self.delta)
