"""Cross-entropies: binary (independent yes/no outputs), categorical (one-hot labels) and sparse categorical
(integer labels).

Cross-entropies take probabilities (clipped to [1e-7, 1 - 1e-7] like Keras, with a zero gradient where clipped) or,
with from_logits=True, logits (log-sum-exp and softplus forms, finite for logits of any size). When `fuses(act)` says
a loss can absorb the output layer's activation, the model trains on `with_logits()` from the logits, so the
backward pass is the cheap (softmax(z) - y) * g instead of a chain through the activation's Jacobian.
"""

from __future__ import annotations

import numpy as np

from nntrain.engine.losses.base import LOSSES, ElementwiseLoss, Loss, dims_match, per_sample_mean, spread
from nntrain.engine.ops import sigmoid, softmax_parts, softplus
from nntrain.engine.schedules import check_bool
from nntrain.errors import ConfigError, DataError, ShapeError

EPSILON = 1e-7  # Keras's backend.epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON]


def _check_smoothing(loss: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{loss}(label_smoothing=...) expects a number in [0, 1], got label_smoothing={value!r}")
    return float(value)


def _clip(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities clipped to [eps, 1 - eps] in p's dtype, and where the clip left them alone (gradient mask)."""
    eps = p.dtype.type(EPSILON)
    lo, hi = eps, p.dtype.type(1) - eps
    return np.clip(p, lo, hi), (p >= lo) & (p <= hi)


@LOSSES.register("binary_crossentropy", "bce")
class BinaryCrossentropy(ElementwiseLoss):
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
        self.from_logits = check_bool("binary_crossentropy", "from_logits", from_logits)
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
        self.from_logits = check_bool("categorical_crossentropy", "from_logits", from_logits)
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
        if dims_match(yt, yp):
            return
        hint = ""
        if dims_match(yt, yp[:-1]) or dims_match(yt, yp[:-1] + (1,)):
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
            weight = spread(g, per_element.shape, p.dtype)
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

        return per_sample_mean(per_element).astype(p.dtype, copy=False), backward


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
        self.from_logits = check_bool("sparse_categorical_crossentropy", "from_logits", from_logits)

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits}

    def check(self, y_true_shape: tuple, y_pred_shape: tuple) -> None:
        yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
        _check_classes("sparse_categorical_crossentropy", yp)
        if dims_match(yt, yp[:-1]) or dims_match(yt, yp[:-1] + (1,)):
            return
        hint = ""
        if dims_match(yt, yp):
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
            weight = spread(g, per_element.shape, p.dtype)
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

        return per_sample_mean(per_element).astype(p.dtype, copy=False), backward
