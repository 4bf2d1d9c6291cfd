"""Layers that reshape one tensor or merge several: Flatten, Reshape, Concatenate, Add; and that resize images:
ZeroPadding2D, UpSampling2D."""

from __future__ import annotations

import math

import numpy as np

from nntrain.engine.layer import LAYERS, Layer, shape_tuple
from nntrain.engine.layers.windows import check_data_format, int_tuple, spatial_size
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


@LAYERS.register("ZeroPadding2D")
class ZeroPadding2D(Layer):
    """Zeros around each image: (batch, h, w, channels) -> (batch, top + h + bottom, left + w + right, channels).

    Args:
        padding: one int (all four sides), [rows, cols] (top = bottom = rows, left = right = cols), or
            [[top, bottom], [left, right]].
    """

    def __init__(self, padding: int | list = (1, 1), data_format: str | None = None, name: str | None = None,
                 trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        check_data_format("ZeroPadding2D", data_format)
        self.padding = _pad_pairs(padding)
        self.data_format = data_format

    def compute_output_shape(self, input_shape):
        h, w = spatial_size(input_shape, 2, self)
        (t, b), (l, r) = self.padding
        return (None if h is None else t + h + b, None if w is None else l + w + r, input_shape[-1])

    def forward(self, x, training):
        (t, b), (l, r) = self.padding
        y = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
        return y, lambda dy: dy[:, t:t + x.shape[1], l:l + x.shape[2]]

    def get_config(self):
        return {"padding": [list(p) for p in self.padding], "data_format": self.data_format, **super().get_config()}


def _pad_pairs(padding) -> tuple[tuple[int, int], tuple[int, int]]:
    def count(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if count(padding):
        return (padding, padding), (padding, padding)
    if isinstance(padding, (list, tuple)) and len(padding) == 2:
        if all(count(v) for v in padding):
            return (padding[0], padding[0]), (padding[1], padding[1])
        if all(isinstance(p, (list, tuple)) and len(p) == 2 and all(count(v) for v in p) for p in padding):
            return tuple(padding[0]), tuple(padding[1])
    raise ConfigError(f"ZeroPadding2D(padding=...) expects an int, [rows, cols] or [[top, bottom], [left, right]] "
                      f"of non-negative integers, got padding={padding!r}")


@LAYERS.register("UpSampling2D")
class UpSampling2D(Layer):
    """Repeats each pixel size[0] times down and size[1] times across (nearest neighbour):
    (batch, h, w, channels) -> (batch, h * size[0], w * size[1], channels)."""

    def __init__(self, size: int | list = (2, 2), data_format: str | None = None, interpolation: str = "nearest",
                 name: str | None = None, trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        check_data_format("UpSampling2D", data_format)
        if interpolation != "nearest":
            raise ConfigError(f"UpSampling2D(interpolation=...) supports 'nearest' only, got {interpolation!r}")
        self.size = int_tuple("UpSampling2D", "size", size, 2)
        self.data_format, self.interpolation = data_format, interpolation

    def compute_output_shape(self, input_shape):
        h, w = spatial_size(input_shape, 2, self)
        sh, sw = self.size
        return (None if h is None else h * sh, None if w is None else w * sw, input_shape[-1])

    def forward(self, x, training):
        sh, sw = self.size
        b, h, w, c = x.shape
        # a broadcast view (b, h, sh, w, sw, c) copied once, rather than two np.repeat passes
        y = np.broadcast_to(x[:, :, None, :, None], (b, h, sh, w, sw, c)).reshape(b, h * sh, w * sw, c)
        return y, lambda dy: dy.reshape(b, h, sh, w, sw, c).sum(axis=(2, 4))

    def get_config(self):
        return {"size": list(self.size), "data_format": self.data_format, "interpolation": self.interpolation,
                **super().get_config()}
