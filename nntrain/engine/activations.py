"""Activations, each paired with its derivative.

Calling an activation returns the output and a `backward(dy) -> dx` closure over what the derivative needs.
All maths is elementwise and vectorized, in the input's dtype.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from nntrain.engine.ops import sigmoid, softmax, softplus
from nntrain.errors import ConfigError
from nntrain.registry import Registry

ACTIVATIONS = Registry("activation")

Backward = Callable[[np.ndarray], np.ndarray]


class Activation:
    """Base class: `y, backward = act(x)`; `backward(dy)` returns dL/dx for dL/dy = dy."""

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, Backward]:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @property
    def name(self) -> str:
        return self.registered_name

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.name}({args})" if args else self.name


def get_activation(spec) -> Activation:
    """An Activation from a name ("relu"), a {"name": "leaky_relu", "alpha": 0.1} dict, an instance, or None."""
    if spec is None:
        spec = "linear"
    return ACTIVATIONS.build(spec)


@ACTIVATIONS.register("linear", "identity")
class Linear(Activation):
    def __call__(self, x):
        return x, lambda dy: dy


@ACTIVATIONS.register("relu")
class ReLU(Activation):
    def __call__(self, x):
        y = np.maximum(x, 0)
        # sign(y) is the 0/1 mask of y > 0 in y's own dtype (y >= 0): a same-type product, twice as fast on a
        # small batch as multiplying by a boolean mask, which NumPy casts element by element
        return y, lambda dy: dy * np.sign(y)


@ACTIVATIONS.register("leaky_relu")
class LeakyReLU(Activation):
    """x for x > 0, alpha * x otherwise (Keras 3 default alpha=0.2)."""

    def __init__(self, alpha: float = 0.2):
        if not isinstance(alpha, (int, float)) or alpha < 0:
            raise ConfigError(f"leaky_relu(alpha=...) expects a non-negative number, got alpha={alpha!r}")
        self.alpha = float(alpha)

    def __call__(self, x):
        pos = x > 0
        y = np.where(pos, x, x * x.dtype.type(self.alpha))
        return y, lambda dy: np.where(pos, dy, dy * dy.dtype.type(self.alpha))

    def get_config(self):
        return {"alpha": self.alpha}


@ACTIVATIONS.register("elu")
class ELU(Activation):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def __call__(self, x):
        pos = x > 0
        e = np.exp(np.minimum(x, 0))
        y = np.where(pos, x, x.dtype.type(self.alpha) * (e - 1))
        return y, lambda dy: np.where(pos, dy, dy * x.dtype.type(self.alpha) * e)

    def get_config(self):
        return {"alpha": self.alpha}


@ACTIVATIONS.register("selu")
class SELU(Activation):
    """scale * elu(x, alpha) with the self-normalizing constants of Klambauer et al. (2017)."""

    ALPHA = 1.6732632423543772848170429916717
    SCALE = 1.0507009873554804934193349852946

    def __call__(self, x):
        pos = x > 0
        e = np.exp(np.minimum(x, 0))
        t = x.dtype.type
        y = t(self.SCALE) * np.where(pos, x, t(self.ALPHA) * (e - 1))
        return y, lambda dy: dy * np.where(pos, t(self.SCALE), t(self.SCALE * self.ALPHA) * e)


def _erf(x: np.ndarray) -> np.ndarray:
    # NumPy has no erf; scipy (already a dependency, for sparse products) has an exact vectorized one.
    # Imported here so models without gelu never load scipy.special.
    from scipy.special import erf

    return erf(x).astype(x.dtype, copy=False)


@ACTIVATIONS.register("gelu")
class GELU(Activation):
    """Gaussian error linear unit. approximate=False (Keras 3 default): x * Phi(x) with the exact normal CDF;
    approximate=True: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""

    def __init__(self, approximate: bool = False):
        self.approximate = bool(approximate)

    def __call__(self, x):
        t = x.dtype.type
        if self.approximate:
            c = t(math.sqrt(2 / math.pi))
            inner = c * (x + t(0.044715) * x**3)
            th = np.tanh(inner)
            y = t(0.5) * x * (1 + th)

            def backward(dy):
                dinner = c * (1 + t(3 * 0.044715) * x**2)
                return dy * (t(0.5) * (1 + th) + t(0.5) * x * (1 - th**2) * dinner)

            return y, backward
        cdf = t(0.5) * (1 + _erf(x / t(math.sqrt(2))))
        pdf = np.exp(t(-0.5) * x * x) / t(math.sqrt(2 * math.pi))
        return x * cdf, lambda dy: dy * (cdf + x * pdf)

    def get_config(self):
        return {"approximate": self.approximate}


@ACTIVATIONS.register("sigmoid")
class Sigmoid(Activation):
    def __call__(self, x):
        y = sigmoid(x)
        return y, lambda dy: dy * y * (1 - y)


@ACTIVATIONS.register("hard_sigmoid")
class HardSigmoid(Activation):
    """Keras 3: relu6(x + 3) / 6, i.e. clip(x / 6 + 0.5, 0, 1)."""

    def __call__(self, x):
        t = x.dtype.type
        z = x / t(6) + t(0.5)
        inside = (z > 0) & (z < 1)
        return np.clip(z, 0, 1), lambda dy: dy * inside / t(6)


@ACTIVATIONS.register("tanh")
class Tanh(Activation):
    def __call__(self, x):
        y = np.tanh(x)
        return y, lambda dy: dy * (1 - y * y)


@ACTIVATIONS.register("softmax")
class Softmax(Activation):
    """exp(x - max) / sum(exp(x - max)) along `axis` (default -1), engine/ops.py."""

    def __init__(self, axis: int = -1):
        if not isinstance(axis, int):
            raise ConfigError(f"softmax(axis=...) expects an integer, got axis={axis!r}")
        self.axis = axis

    def __call__(self, x):
        y = softmax(x, self.axis)

        def backward(dy):
            return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))

        return y, backward

    def get_config(self):
        return {"axis": self.axis}


@ACTIVATIONS.register("softplus")
class Softplus(Activation):
    """log(1 + exp(x)), finite for large |x| (engine/ops.py)."""

    def __call__(self, x):
        return softplus(x), lambda dy: dy * sigmoid(x)


@ACTIVATIONS.register("softsign")
class Softsign(Activation):
    """x / (1 + |x|)."""

    def __call__(self, x):
        d = 1 + np.abs(x)
        return x / d, lambda dy: dy / (d * d)


@ACTIVATIONS.register("swish", "silu")
class Swish(Activation):
    """x * sigmoid(x)."""

    def __call__(self, x):
        s = sigmoid(x)
        return x * s, lambda dy: dy * (s + x * s * (1 - s))
