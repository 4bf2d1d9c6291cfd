"""The numerically stable forms of sigmoid, softplus, softmax and log-softmax, written once.

Activations, losses, predictions and evaluation all call these, so a logit turns into the same probability
everywhere. Each works elementwise (or along `axis`) in its input's dtype and stays finite for logits of any size:
only exponentials of non-positive numbers are taken.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), as 1 / (1 + e) for x >= 0 and e / (1 + e) below, with e = exp(-|x|).

    Args:
        x: array of any shape, floating point.

    Returns:
        An array of x's shape and dtype, in [0, 1].
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)), as max(x, 0) + log1p(exp(-|x|)). Its derivative is sigmoid(x).

    Args:
        x: array of any shape, floating point.

    Returns:
        An array of x's shape and dtype, >= 0.
    """
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softmax_parts(z: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pieces both softmax and log-softmax are made of, so a loss that needs both pays for one exp.

    Args:
        z: (..., classes) logits (classes along `axis`).

    Returns:
        shifted: z - max(z) along `axis`, z's shape.
        e: exp(shifted), z's shape.
        total: the sum of e along `axis`, kept as a length-1 axis.
        Then softmax(z) = e / total and log_softmax(z) = shifted - log(total).
    """
    # the ufuncs' own reduce: z.max() and e.sum() cost a Python wrapper call each, a fifth of a small softmax
    shifted = z - np.maximum.reduce(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return shifted, e, np.add.reduce(e, axis=axis, keepdims=True)


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(z) / sum(exp(z)) along `axis`, computed after subtracting the maximum.

    Args:
        z: (..., classes) logits.

    Returns:
        Probabilities of z's shape and dtype, summing to 1 along `axis`.
    """
    _, e, total = softmax_parts(z, axis)
    e /= total
    return e


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(softmax(z)) along `axis`, as (z - max) - log(sum(exp(z - max))): finite where softmax underflows to 0.

    Args:
        z: (..., classes) logits.

    Returns:
        Log-probabilities of z's shape and dtype.
    """
    shifted, _, total = softmax_parts(z, axis)
    return shifted - np.log(total)
