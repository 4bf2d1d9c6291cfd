"""Layers that reshape one tensor or merge several: Flatten, Reshape, Concatenate, Add."""

from __future__ import annotations

import math

import numpy as np

from nntrain.engine.layer import LAYERS, Layer, shape_tuple
from nntrain.errors import ConfigError


@LAYERS.register("Flatten")
class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)."""

    def compute_output_shape(self, input_shape):
        if any(d is None for d in input_shape):
            raise self.shape_error(input_shape, "every dimension known")
        return (math.prod(input_shape),)

    def forward(self, x, training):
        shape = x.shape
        return x.reshape(len(x), -1), lambda dy: dy.reshape(shape)


@LAYERS.register("Reshape")
class Reshape(Layer):
    """Reshape each example to `target_shape` (one dimension may be -1)."""

    def __init__(self, target_shape, name: str | None = None, trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        self.target_shape = shape_tuple("Reshape", "target_shape", target_shape)
        if None in self.target_shape:
            raise ConfigError(f"Reshape(target_shape=...) expects positive integers and at most one -1, got "
                              f"{list(self.target_shape)}")
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ConfigError(f"Reshape(target_shape=...) allows at most one -1, got {list(self.target_shape)}")

    def compute_output_shape(self, input_shape):
        if any(d is None for d in input_shape):
            raise self.shape_error(input_shape, "every dimension known")
        size = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if size % known:
                raise self.shape_error(input_shape, f"a size divisible by {known} to reshape to "
                                                    f"{list(self.target_shape)}")
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise self.shape_error(input_shape, f"{known} values per example to reshape to "
                                                f"{list(self.target_shape)}, got {size}")
        return self.target_shape

    def forward(self, x, training):
        shape = x.shape
        return x.reshape((len(x), *self.output_shape)), lambda dy: dy.reshape(shape)

    def get_config(self):
        return {"target_shape": list(self.target_shape), **super().get_config()}


@LAYERS.register("Concatenate")
class Concatenate(Layer):
    """Joins a list of tensors along `axis` (default -1); all other dimensions must agree."""

    multi_input = True

    def __init__(self, axis: int = -1, name: str | None = None, trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
            raise ConfigError(f"Concatenate(axis=...) expects a non-zero integer (axis 0 is the batch), got {axis!r}")
        self.axis = axis

    def _axis(self, rank: int) -> int:
        # axis counts the batch dimension, as in Keras; shapes here do not include it
        return self.axis - 1 if self.axis > 0 else rank + self.axis

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise self.shape_error(input_shape, "a list of at least two inputs")
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise self.shape_error(input_shape, "inputs of the same rank")
        rank = ranks.pop()
        ax = self._axis(rank)
        if not 0 <= ax < rank:
            raise self.shape_error(input_shape, f"axis {self.axis} to exist")
        rest = {tuple(d for i, d in enumerate(s) if i != ax) for s in input_shape}
        if len(rest) != 1:
            raise self.shape_error(input_shape, f"inputs that agree on every axis except axis {self.axis}")
        sizes = [s[ax] for s in input_shape]
        out = list(input_shape[0])
        out[ax] = None if None in sizes else sum(sizes)
        return tuple(out)

    def forward(self, xs, training):
        ax = self._axis(xs[0].ndim - 1) + 1
        y = np.concatenate(xs, axis=ax)
        # backward hands each input its slice of dy (views); plain slicing costs less than np.split
        lead = (slice(None),) * ax
        cuts, start = [], 0
        for x in xs:
            cuts.append(lead + (slice(start, start + x.shape[ax]),))
            start += x.shape[ax]
        return y, lambda dy: [dy[cut] for cut in cuts]

    def get_config(self):
        return {"axis": self.axis, **super().get_config()}


@LAYERS.register("Add")
class Add(Layer):
    """Elementwise sum of a list of tensors of the same shape."""

    multi_input = True

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise self.shape_error(input_shape, "a list of at least two inputs")
        if len({tuple(s) for s in input_shape}) != 1:
            raise self.shape_error(input_shape, "inputs of identical shapes")
        return input_shape[0]

    def forward(self, xs, training):
        y = xs[0].copy()
        for x in xs[1:]:
            y += x
        n = len(xs)
        return y, lambda dy: [dy] * n
