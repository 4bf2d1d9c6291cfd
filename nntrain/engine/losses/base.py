"""Losses: per-sample values and their gradient with respect to the predictions.

Every loss follows one contract, which the model and the training loop rely on:

    per_sample, backward = loss.forward(y_true, y_pred)   # per_sample: (batch,)
    dy_pred = backward(g)                                  # g: (batch,); dL/dy_pred for L = sum(g * per_sample)

The loop reduces with Keras's "sum_over_batch_size": loss = sum(w * per_sample) / batch, and calls
backward(w / batch) -- a plain float when no sample weights are given, the same weight for every sample.
Everything runs in y_pred's dtype and is vectorized over the batch. `forward` checks the labels' shape; the model,
which checks whole data sets once before training, calls `forward_checked` and skips that per batch.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from nntrain.errors import ConfigError, ShapeError
from nntrain.registry import Registry

LOSSES = Registry("loss")

Backward = Callable[[np.ndarray], np.ndarray]


class Loss:
    """Base class. Subclasses implement `check` and `forward`; `get_config` returns the constructor's arguments.

    Attributes:
        fuses_with: the output activation whose backward this loss can absorb when given logits
            ("softmax", "sigmoid"), or None.
    """

    fuses_with: str | None = None
    registered_name: str = "loss"  # set by LOSSES.register
    direction = "down"  # lower is better, for every loss (engine/monitor.py)

    def get_config(self) -> dict:
        """The constructor's arguments: `LOSSES.build(name, **loss.get_config())` rebuilds an equal loss."""
        return {}

    def check(self, y_true_shape: tuple, y_pred_shape: tuple) -> None:
        """Raise ShapeError when labels of `y_true_shape` cannot go with predictions of `y_pred_shape`.

        Both shapes include the batch dimension, which may be None.
        """
        raise NotImplementedError

    def forward(self, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, Backward]:
        """Per-sample losses and their backward.

        Args:
            y_true: labels, float or int; shape as accepted by `check`.
            y_pred: (batch, ...) predictions (or logits with from_logits=True).

        Returns:
            per_sample: (batch,) in y_pred's dtype.
            backward: g -> dL/dy_pred with y_pred's shape and dtype, for L = sum(g * per_sample); g is (batch,)
                or a float (the same for every sample).
        """
        p = _floating(y_pred)
        self.check(np.shape(y_true), p.shape)
        return self.forward_checked(y_true, p)

    def forward_checked(self, y_true, p: np.ndarray) -> tuple[np.ndarray, Backward]:
        """`forward` for labels whose shape has been checked already and floating-point predictions `p`."""
        raise NotImplementedError

    def check_values(self, y_true, y_pred_shape: tuple) -> None:
        """Reject label values the loss cannot take (DataError), once for a whole data set before training.
        Most losses take any finite value; sparse_categorical_crossentropy needs class indices in range."""

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        """The batch loss as the training loop reports it: sum(w * per_sample) / batch."""
        per_sample, _ = self.forward(y_true, y_pred)
        w = np.ones(len(per_sample)) if sample_weight is None else np.asarray(sample_weight, np.float64).reshape(-1)
        return float(np.sum(w * per_sample) / len(per_sample))

    def fuses(self, activation) -> bool:
        """Whether this loss, given probabilities now, can take the logits before `activation` instead (the one way
        a loss fuses with an output activation: the model then trains on `with_logits()` and skips the activation).
        """
        return (self.fuses_with is not None and not getattr(self, "from_logits", False) and activation is not None
                and activation.name == self.fuses_with and getattr(activation, "axis", -1) == -1)

    def with_logits(self) -> "Loss":
        """A copy of this loss that takes logits (from_logits=True), for fusing with `fuses_with`."""
        if self.fuses_with is None:
            raise ConfigError(f"loss {self.registered_name!r} has no from_logits form")
        return type(self)(**{**self.get_config(), "from_logits": True})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# ---------------------------------------------------------------------------------------------------------------------
# Shared helpers


def _floating(y_pred) -> np.ndarray:
    y_pred = np.asarray(y_pred)
    return y_pred if np.issubdtype(y_pred.dtype, np.floating) else y_pred.astype(np.float32)


def dims_match(a: tuple, b: tuple) -> bool:
    # None is an unknown dimension (usually the batch) and matches anything.
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def per_sample_mean(values: np.ndarray) -> np.ndarray:
    """(batch, ...) -> (batch,): the mean over all non-batch axes (Keras: mean over the last axis, then the
    sum_over_batch_size reduction averages any axes in between)."""
    if values.ndim == 1:
        return values
    rows = values.reshape(len(values), -1)
    if rows.shape[1] == 1:  # one output: the mean is the value (np.mean would cost more than the maths)
        return rows[:, 0]
    return np.add.reduce(rows, axis=1) / rows.shape[1]  # as np.mean computes it, without its Python layer


def spread(g, shape: tuple, dtype):
    """The weight that per-sample weights g give each element of a (batch, ...) array averaged per sample: a
    (batch, 1, ...) array for g of shape (batch,), a scalar of `dtype` for a float g."""
    n = 1
    for d in shape[1:]:
        n *= d
    if isinstance(g, float):
        return dtype.type(g / n)
    return (np.asarray(g, dtype).reshape((len(g),) + (1,) * (len(shape) - 1)) / dtype.type(n)).astype(dtype)


# ---------------------------------------------------------------------------------------------------------------------
# Element-wise losses: labels have the predictions' shape; per-sample loss is the mean over the non-batch axes.


class ElementwiseLoss(Loss):
    """Base for losses of the form per_sample = mean_j f(y_j, p_j). Subclasses give f and df/dp."""

    def check(self, y_true_shape: tuple, y_pred_shape: tuple) -> None:
        yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
        # (batch,) labels with (batch, 1) predictions (or the reverse) are one column: Keras squeezes them to fit.
        if dims_match(yt, yp) or dims_match(yt + (1,), yp) or dims_match(yt, yp + (1,)):
            return
        raise ShapeError(
            f"{self.registered_name}: labels of shape {yt} do not fit predictions of shape {yp}; "
            f"expected labels of shape {yp} (one target per output)"
        )

    def _value(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _grad(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward_checked(self, y_true, p):
        y = labels_like(y_true, p)
        per_sample = per_sample_mean(self._value(y, p)).astype(p.dtype, copy=False)

        def backward(g):
            return (self._grad(y, p) * spread(g, p.shape, p.dtype)).astype(p.dtype, copy=False)

        return per_sample, backward


def labels_like(y_true, p: np.ndarray) -> np.ndarray:
    """Labels as an array of p's dtype and shape ((batch,) labels fit (batch, 1) predictions)."""
    if type(y_true) is not np.ndarray or y_true.dtype != p.dtype:
        y_true = np.asarray(y_true).astype(p.dtype, copy=False)
    return y_true if y_true.shape == p.shape else y_true.reshape(p.shape)
