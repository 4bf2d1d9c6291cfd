"""Losses: per-sample values and their gradient with respect to the predictions.

Every loss follows one contract, which the model and the training loop rely on:

    per_sample, backward = loss.forward(y_true, y_pred)   # per_sample: (batch,)
    dy_pred = backward(g)                                  # g: (batch,); dL/dy_pred for L = sum(g * per_sample)

The loop reduces with Keras's "sum_over_batch_size": loss = sum(w * per_sample) / batch, and calls
backward(w / batch) -- a plain float when no sample weights are given, the same weight for every sample.
Everything runs in y_pred's dtype and is vectorized over the batch. `forward` checks the labels' shape; the model,
which checks whole data sets once before training, calls `forward_checked` and skips that per batch.

Cross-entropies take probabilities (clipped to [1e-7, 1 - 1e-7] like Keras, with a zero gradient where clipped) or,
with from_logits=True, logits (log-sum-exp and softplus forms, finite for logits of any size). When the output
layer's activation equals a loss's `fuses_with`, the model hands the loss logits and a from_logits=True copy, so the
backward pass is the cheap (softmax(z) - y) * g instead of a chain through the activation's Jacobian.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from nntrain.engine.ops import sigmoid, softmax_parts, softplus
from nntrain.errors import ConfigError, DataError, ShapeError
from nntrain.registry import Registry

LOSSES = Registry("loss")

EPSILON = 1e-7  # Keras's backend.epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON]

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


def _dims_match(a: tuple, b: tuple) -> bool:
    # None is an unknown dimension (usually the batch) and matches anything.
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _per_sample_mean(values: np.ndarray) -> np.ndarray:
    """(batch, ...) -> (batch,): the mean over all non-batch axes (Keras: mean over the last axis, then the
    sum_over_batch_size reduction averages any axes in between)."""
    if values.ndim == 1:
        return values
    rows = values.reshape(len(values), -1)
    if rows.shape[1] == 1:  # one output: the mean is the value (np.mean would cost more than the maths)
        return rows[:, 0]
    return np.add.reduce(rows, axis=1) / rows.shape[1]  # as np.mean computes it, without its Python layer


def _spread(g, shape: tuple, dtype):
    """The weight that per-sample weights g give each element of a (batch, ...) array averaged per sample: a
    (batch, 1, ...) array for g of shape (batch,), a scalar of `dtype` for a float g."""
    n = 1
    for d in shape[1:]:
        n *= d
    if isinstance(g, float):
        return dtype.type(g / n)
    return (np.asarray(g, dtype).reshape((len(g),) + (1,) * (len(shape) - 1)) / dtype.type(n)).astype(dtype)


def _check_bool(loss: str, key: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{loss}({key}=...) expects true or false, got {key}={value!r}")
    return bool(value)


def _check_smoothing(loss: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{loss}(label_smoothing=...) expects a number in [0, 1], got label_smoothing={value!r}")
    return float(value)


def _clip(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities clipped to [eps, 1 - eps] in p's dtype, and where the clip left them alone (gradient mask)."""
    eps = p.dtype.type(EPSILON)
    lo, hi = eps, p.dtype.type(1) - eps
    return np.clip(p, lo, hi), (p >= lo) & (p <= hi)


# ---------------------------------------------------------------------------------------------------------------------
# Element-wise losses: labels have the predictions' shape; per-sample loss is the mean over the non-batch axes.


class _ElementwiseLoss(Loss):
    """Base for losses of the form per_sample = mean_j f(y_j, p_j). Subclasses give f and df/dp."""

    def check(self, y_true_shape: tuple, y_pred_shape: tuple) -> None:
        yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
        # (batch,) labels with (batch, 1) predictions (or the reverse) are one column: Keras squeezes them to fit.
        if _dims_match(yt, yp) or _dims_match(yt + (1,), yp) or _dims_match(yt, yp + (1,)):
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
        y = _labels_like(y_true, p)
        per_sample = _per_sample_mean(self._value(y, p)).astype(p.dtype, copy=False)

        def backward(g):
            return (self._grad(y, p) * _spread(g, p.shape, p.dtype)).astype(p.dtype, copy=False)

        return per_sample, backward


def _labels_like(y_true, p: np.ndarray) -> np.ndarray:
    """Labels as an array of p's dtype and shape ((batch,) labels fit (batch, 1) predictions)."""
    if type(y_true) is not np.ndarray or y_true.dtype != p.dtype:
        y_true = np.asarray(y_true).astype(p.dtype, copy=False)
    return y_true if y_true.shape == p.shape else y_true.reshape(p.shape)


@LOSSES.register("mean_squared_error", "mse")
class MeanSquaredError(_ElementwiseLoss):
    """Mean squared error: per_sample = mean_j (p_j - y_j)^2.

    Shapes: y_true and y_pred (batch, ...) alike; (batch,) labels also fit (batch, 1) predictions.
    """

    def _value(self, y, p):
        return np.square(p - y)

    def _grad(self, y, p):
        return 2 * (p - y)

    def forward_checked(self, y_true, p):
        # the difference is computed once and shared by the value and the gradient
        diff = p - _labels_like(y_true, p)
        per_sample = _per_sample_mean(np.square(diff))

        def backward(g):
            return diff * _spread(2 * g, diff.shape, p.dtype)  # 2 * (p - y) * g / n; doubling is exact

        return per_sample, backward


@LOSSES.register("mean_absolute_error", "mae")
class MeanAbsoluteError(_ElementwiseLoss):
    """Mean absolute error: per_sample = mean_j |p_j - y_j| (gradient sign(p - y), 0 where equal).

    Shapes: y_true and y_pred (batch, ...) alike; (batch,) labels also fit (batch, 1) predictions.
    """

    def _value(self, y, p):
        return np.abs(p - y)

    def _grad(self, y, p):
        return np.sign(p - y)


@LOSSES.register("huber", "huber_loss")
class Huber(_ElementwiseLoss):
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


@LOSSES.register("binary_crossentropy", "bce")
class BinaryCrossentropy(_ElementwiseLoss):
    """Binary cross-entropy, one independent yes/no per output.

    With smoothed labels y' = y * (1 - s) + 0.5 * s:
        probabilities p, clipped to [eps, 1 - eps] with eps = 1e-7:
            per_sample = mean_j -(y'_j log p_j + (1 - y'_j) log(1 - p_j))
        logits z (from_logits=True): per_sample = mean_j softplus(z_j) - y'_j z_j, gradient sigmoid(z) - y'

    Args:
        from_logits: y_pred holds logits rather than probabilities.
        label_smoothing: s in [0, 1]; squeezes labels towards 0.5.

    Shapes: y_true (0/1, float or int) and y_pred (batch, ...) alike; (batch,) labels also fit (batch, 1).
    """

    fuses_with = "sigmoid"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        self.from_logits = _check_bool("binary_crossentropy", "from_logits", from_logits)
        self.label_smoothing = _check_smoothing("binary_crossentropy", label_smoothing)

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def _smooth(self, y):
        s = self.label_smoothing
        return y if s == 0 else y * y.dtype.type(1 - s) + y.dtype.type(0.5 * s)

    def _value(self, y, p):
        y = self._smooth(y)
        if self.from_logits:
            return softplus(p) - y * p
        pc, _ = _clip(p)
        return -(y * np.log(pc) + (1 - y) * np.log1p(-pc))

    def _grad(self, y, p):
        y = self._smooth(y)
        if self.from_logits:
            return sigmoid(p) - y
        pc, inside = _clip(p)
        return np.where(inside, (pc - y) / (pc * (1 - pc)), 0)


# ---------------------------------------------------------------------------------------------------------------------
# Categorical cross-entropies: a distribution over the classes on the last axis.


def _check_classes(loss: str, y_pred_shape: tuple) -> None:
    if len(y_pred_shape) < 2:
        raise ShapeError(
            f"{loss}: predictions of shape {tuple(y_pred_shape)} have no class axis; "
            f"expected (batch, classes), e.g. from a softmax output layer"
        )


def _normalized(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p / sum(p) over the last axis (Keras rescales probabilities to sum to one before clipping), and the sum."""
    total = np.maximum(p.sum(axis=-1, keepdims=True), np.finfo(p.dtype).tiny)
    return p / total, total


@LOSSES.register("categorical_crossentropy", "cce")
class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy against one-hot (or soft) labels.

    With smoothed labels y' = y * (1 - s) + s / classes, over the class axis:
        probabilities p: q = clip(p / sum(p), eps, 1 - eps), per_sample = -sum_c y'_c log q_c
        logits z (from_logits=True): per_sample = -sum_c y'_c log_softmax(z)_c, gradient softmax(z) * sum(y') - y'
    Extra non-batch axes (e.g. time steps) are averaged.

    Args:
        from_logits: y_pred holds logits rather than probabilities.
        label_smoothing: s in [0, 1]; mixes the labels with the uniform distribution.
        axis: the class axis (default -1, the last); never the batch axis.

    Shapes: y_true and y_pred (batch, classes) alike, or (batch, ..., classes).
    """

    fuses_with = "softmax"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1):
        self.from_logits = _check_bool("categorical_crossentropy", "from_logits", from_logits)
        self.label_smoothing = _check_smoothing("categorical_crossentropy", label_smoothing)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis == 0:
            raise ConfigError(
                f"categorical_crossentropy(axis=...) expects the class axis as a non-zero integer "
                f"(0 is the batch axis), got axis={axis!r}"
            )
        self.axis = int(axis)

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing, "axis": self.axis}

    def check(self, y_true_shape: tuple, y_pred_shape: tuple) -> None:
        yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
        _check_classes("categorical_crossentropy", yp)
        if not -len(yp) < self.axis < len(yp):
            raise ShapeError(
                f"categorical_crossentropy: axis={self.axis} is not a class axis of predictions of shape {yp}"
            )
        if _dims_match(yt, yp):
            return
        hint = ""
        if _dims_match(yt, yp[:-1]) or _dims_match(yt, yp[:-1] + (1,)):
            hint = " These look like integer class labels: use sparse_categorical_crossentropy, or one-hot encode them."
        raise ShapeError(
            f"categorical_crossentropy: labels of shape {yt} do not fit predictions of shape {yp}; "
            f"expected one-hot labels of shape {yp}.{hint}"
        )

    def forward_checked(self, y_true, p):
        last = self.axis in (-1, p.ndim - 1)
        y = np.asarray(y_true).astype(p.dtype, copy=False)
        y = y if last else np.moveaxis(y, self.axis, -1)
        x = p if last else np.moveaxis(p, self.axis, -1)
        if self.label_smoothing:
            s = self.label_smoothing
            y = y * p.dtype.type(1 - s) + p.dtype.type(s / x.shape[-1])

        if self.from_logits:
            shifted, e, total = softmax_parts(x)
            log_probs = shifted - np.log(total)
            per_element = -np.add.reduce(y * log_probs, axis=-1)
        else:
            q, total = _normalized(x)
            qc, inside = _clip(q)
            per_element = -(y * np.log(qc)).sum(axis=-1)

        def backward(g):
            weight = _spread(g, per_element.shape, p.dtype)
            if isinstance(weight, np.ndarray):
                weight = weight[..., None]
            if self.from_logits:
                grad = e / total  # softmax(x)
                grad *= np.add.reduce(y, axis=-1, keepdims=True)
                grad -= y
            else:
                # Chain through q = x / sum(x): dL/dx_j = (u_j - sum_c u_c q_c) / sum(x), u = dL/dq.
                u = np.where(inside, -y / qc, 0)
                grad = (u - (u * q).sum(axis=-1, keepdims=True)) / total
            grad = (grad * weight).astype(p.dtype, copy=False)
            return grad if last else np.moveaxis(grad, -1, self.axis)

        return _per_sample_mean(per_element).astype(p.dtype, copy=False), backward


@LOSSES.register("sparse_categorical_crossentropy", "scce")
class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy against integer class labels.

    For label k of each sample:
        probabilities p: per_sample = -log clip(p_k / sum(p), eps, 1 - eps)
        logits z (from_logits=True): per_sample = logsumexp(z) - z_k, gradient softmax(z) - onehot(k)
    Extra non-batch axes (e.g. time steps) are averaged.

    Args:
        from_logits: y_pred holds logits rather than probabilities.

    Shapes: y_pred (batch, ..., classes); y_true (batch, ...) or (batch, ..., 1) holding integers in [0, classes),
    as int or integral float.
    """

    fuses_with = "softmax"

    def __init__(self, from_logits: bool = False):
        self.from_logits = _check_bool("sparse_categorical_crossentropy", "from_logits", from_logits)

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits}

    def check(self, y_true_shape: tuple, y_pred_shape: tuple) -> None:
        yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
        _check_classes("sparse_categorical_crossentropy", yp)
        if _dims_match(yt, yp[:-1]) or _dims_match(yt, yp[:-1] + (1,)):
            return
        hint = ""
        if _dims_match(yt, yp):
            hint = " These look like one-hot labels: use categorical_crossentropy, or pass class indices."
        raise ShapeError(
            f"sparse_categorical_crossentropy: labels of shape {yt} do not fit predictions of shape {yp}; "
            f"expected integer class labels of shape {yp[:-1]} or {yp[:-1] + (1,)}.{hint}"
        )

    def check_values(self, y_true, y_pred_shape: tuple) -> None:
        self._labels(y_true, np.broadcast_to(np.float32(0), y_pred_shape))  # a shape, no memory

    def _labels(self, y_true, y_pred: np.ndarray) -> np.ndarray:
        labels = np.asarray(y_true)
        if labels.shape != y_pred.shape[:-1]:
            labels = labels.reshape(y_pred.shape[:-1])
        classes = y_pred.shape[-1]
        if labels.dtype.kind not in "iub":
            values = labels.astype(np.float64)
            fractional = values != np.round(values)  # also catches NaN
            if np.any(fractional):
                raise DataError(
                    f"sparse_categorical_crossentropy: labels must be integer class indices, got values like "
                    f"{values[fractional][:3].tolist()}"
                )
        # two reductions instead of a mask over every label: the mask is only built to name a bad label
        if labels.size and (np.minimum.reduce(labels, axis=None) < 0
                            or np.maximum.reduce(labels, axis=None) >= classes):
            out = (labels < 0) | (labels >= classes)
            raise DataError(
                f"sparse_categorical_crossentropy: label {labels[out].ravel()[0].item()!r} is out of range for "
                f"{classes} classes; expected integers in [0, {classes - 1}]"
            )
        return labels.astype(np.intp, copy=False)

    def forward_checked(self, y_true, p):
        labels = self._labels(y_true, p)  # (batch, ...)
        idx = labels[..., None]

        if self.from_logits:
            shifted, e, total = softmax_parts(p)
            # where each label's logit sits in the flattened (batch * ..., classes) arrays
            flat = labels.reshape(-1) + np.arange(0, labels.size * p.shape[-1], p.shape[-1])
            # -log softmax(z)_k = log(total) - (z_k - max)
            per_element = (np.log(total).reshape(-1) - shifted.reshape(-1)[flat]).reshape(labels.shape)
        else:
            q, total = _normalized(p)
            q_k = np.take_along_axis(q, idx, axis=-1)
            qc, inside = _clip(q_k)
            per_element = -np.log(qc)[..., 0]

        def backward(g):
            weight = _spread(g, per_element.shape, p.dtype)
            if isinstance(weight, np.ndarray):
                weight = weight[..., None]
            if self.from_logits:
                grad = e / total  # softmax(z) - onehot(k)
                grad.reshape(-1)[flat] -= 1
            else:
                # Only q_k carries a gradient u_k = -1/q_k; chain through q = p / sum(p) as in the dense case.
                u_k = np.where(inside, -1 / qc, 0)
                grad = np.broadcast_to(-(u_k * q_k) / total, p.shape).copy()
                np.put_along_axis(grad, idx, np.take_along_axis(grad, idx, axis=-1) + u_k / total, axis=-1)
            return (grad * weight).astype(p.dtype, copy=False)

        return _per_sample_mean(per_element).astype(p.dtype, copy=False), backward
