"""Weight and activity regularizers. Their penalty is added to the training loss (and the reported `loss`),
as in Keras: l1 * sum(|w|) + l2 * sum(w^2)."""

from __future__ import annotations

import numpy as np

from nntrain.errors import ConfigError
from nntrain.registry import Registry

REGULARIZERS = Registry("regularizer")


@REGULARIZERS.register("l1_l2")
class L1L2:
    """penalty(w) = l1 * sum(|w|) + l2 * sum(w^2); gradient l1 * sign(w) + 2 * l2 * w."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        for name, v in (("l1", l1), ("l2", l2)):
            if not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"regularizer {name} must be a non-negative number, got {name}={v!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def penalty(self, w: np.ndarray) -> float:
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(w).sum())
        if self.l2:
            total += self.l2 * float((w * w).sum())
        return total

    def add_gradient(self, w: np.ndarray, grad: np.ndarray, scale: float = 1.0) -> None:
        """grad += scale * d penalty / dw, in place."""
        if self.l1:
            grad += w.dtype.type(scale * self.l1) * np.sign(w)
        if self.l2:
            grad += w.dtype.type(scale * 2 * self.l2) * w

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


@REGULARIZERS.register("l1")
class L1(L1L2):
    """Keras default l1=0.01."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


@REGULARIZERS.register("l2")
class L2(L1L2):
    """Keras default l2=0.01."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def get_regularizer(spec):
    return None if spec is None else REGULARIZERS.build(spec)
