"""Pooling over channels_last inputs: MaxPooling2D, AveragePooling2D, MaxPooling1D over windows, and the global
poolings GlobalAveragePooling2D, GlobalMaxPooling2D, GlobalMaxPooling1D over every spatial position.

Window pooling runs one vectorized operation per offset inside the window (4 for a 2x2 pool), never one per pixel.
A maximum sends its gradient to the first largest value of its window in row-major order, as TensorFlow and
PyTorch do, so ties (the zeros after a relu) do not multiply the gradient.
"""

from __future__ import annotations

import numpy as np

from nntrain.engine.layer import LAYERS, Layer
from nntrain.engine.layers.windows import (
    Windows,
    check_data_format,
    check_padding,
    int_tuple,
    output_size,
    spatial_size,
    too_small,
)


class _Pool(Layer):
    """Pooling over windows of `pool_size` (rank spatial axes); `reduce` is 'max' or 'average'."""

    rank = 2
    reduce = "max"

    def _setup(self, pool_size, strides, padding, data_format, name, trainable):
        super().__init__(name=name, trainable=trainable)
        layer = type(self).__name__
        check_data_format(layer, data_format)
        self.pool_size = int_tuple(layer, "pool_size", pool_size, self.rank)
        # Keras: strides default to the pool size (windows side by side)
        self.strides = self.pool_size if strides is None else int_tuple(layer, "strides", strides, self.rank)
        self.padding = check_padding(layer, padding)
        self.data_format = data_format
        self._geometry: dict[tuple, tuple[Windows, np.ndarray | None]] = {}

    def compute_output_shape(self, input_shape):
        size = spatial_size(input_shape, self.rank, self)
        out = tuple(output_size(*a, 1, self.padding) for a in zip(size, self.pool_size, self.strides))
        too_small(self, input_shape, out)
        return (*out, input_shape[-1])

    def windows(self, size: tuple) -> tuple[Windows, np.ndarray | None]:
        """The geometry over spatial `size`, and for an average with padding the number of real (unpadded) values
        in each window, (1, out_h, out_w, 1): Keras averages over those only."""
        if size not in self._geometry:
            lift = (lambda v: v) if self.rank == 2 else (lambda v: (1, *v))
            win = Windows.of(size, lift(self.pool_size), lift(self.strides), (1, 1), self.padding)
            counts = None
            if self.reduce == "average" and win.padded:
                real = win.pad(np.ones((1, *size, 1)))
                counts = sum(real[:, rows, cols] for _, _, rows, cols in win.offsets())
            self._geometry[size] = (win, counts)
        return self._geometry[size]

    def forward(self, x, training):
        """x: (batch, *spatial, channels) -> (batch, *out_spatial, channels)."""
        img = x if self.rank == 2 else x[:, None]
        win, counts = self.windows(img.shape[1:3])
        pool = self._max if self.reduce == "max" else self._average
        y, backward = pool(img, win, counts)
        if self.rank == 1:
            return y[:, 0], lambda dy: backward(dy[:, None])[:, 0]
        return y, backward

    @staticmethod
    def _max(img, win, _counts):
        xp = win.pad(img, -np.inf)  # padding never wins
        parts = [(rows, cols, xp[:, rows, cols]) for _, _, rows, cols in win.offsets()]
        y = parts[0][2].copy()
        for _, _, part in parts[1:]:
            np.maximum(y, part, out=y)
        overlap = any(s < k for s, k in zip(win.strides, win.kernel))

        def backward(dy):
            dxp = win.padded_zeros(len(dy), dy.shape[-1], dy.dtype)
            left = dy.copy()  # what no earlier offset of the window has taken: only the first maximum gets dy
            for rows, cols, part in parts:
                if overlap:
                    taken = left * (part == y)
                    dxp[:, rows, cols] += taken
                else:  # the windows' pixels are disjoint: write in place, without a temporary
                    taken = dxp[:, rows, cols]
                    np.multiply(left, part == y, out=taken)
                left -= taken
            return win.crop(dxp)

        return y, backward

    @staticmethod
    def _average(img, win, counts):
        xp = win.pad(img)
        y = sum(xp[:, rows, cols] for _, _, rows, cols in win.offsets())
        scale = img.dtype.type(1 / np.prod(win.kernel)) if counts is None else (1 / counts).astype(img.dtype)
        y *= scale

        def backward(dy):
            share = dy * scale
            dxp = win.padded_zeros(len(dy), dy.shape[-1], dy.dtype)
            for _, _, rows, cols in win.offsets():
                dxp[:, rows, cols] += share
            return win.crop(dxp)

        return y, backward

    def get_config(self):
        return {"pool_size": list(self.pool_size), "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format, **super().get_config()}


@LAYERS.register("MaxPooling2D", "MaxPool2D")
class MaxPooling2D(_Pool):
    """The maximum of each pool_size window: (batch, h, w, channels) -> (batch, out_h, out_w, channels).

    Args:
        pool_size: window (height, width) or one int (default 2x2).
        strides: step between windows; None (default) means pool_size.
        padding: 'valid' or 'same' (out = ceil(in / stride); padding never wins a maximum).
    """

    def __init__(self, pool_size: int | list = (2, 2), strides: int | list | None = None, padding: str = "valid",
                 data_format: str | None = None, name: str | None = None, trainable: bool = True):
        self._setup(pool_size, strides, padding, data_format, name, trainable)


@LAYERS.register("AveragePooling2D", "AvgPool2D")
class AveragePooling2D(_Pool):
    """The mean of each pool_size window (with padding='same', the mean of the window's real values only);
    arguments as MaxPooling2D."""

    reduce = "average"

    def __init__(self, pool_size: int | list = (2, 2), strides: int | list | None = None, padding: str = "valid",
                 data_format: str | None = None, name: str | None = None, trainable: bool = True):
        self._setup(pool_size, strides, padding, data_format, name, trainable)


@LAYERS.register("MaxPooling1D", "MaxPool1D")
class MaxPooling1D(_Pool):
    """The maximum of each window of pool_size steps: (batch, steps, channels) -> (batch, out_steps, channels)."""

    rank = 1

    def __init__(self, pool_size: int | list = 2, strides: int | list | None = None, padding: str = "valid",
                 data_format: str | None = None, name: str | None = None, trainable: bool = True):
        self._setup(pool_size, strides, padding, data_format, name, trainable)


class _GlobalPool(Layer):
    """Pooling over every spatial position: (batch, *spatial, channels) -> (batch, channels)."""

    rank = 2
    reduce = "max"

    def __init__(self, data_format: str | None = None, keepdims: bool = False, name: str | None = None,
                 trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        check_data_format(type(self).__name__, data_format)
        self.data_format = data_format
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        spatial_size(input_shape, self.rank, self)
        return (*(1,) * self.rank, input_shape[-1]) if self.keepdims else (input_shape[-1],)

    def forward(self, x, training):
        flat = x.reshape(len(x), -1, x.shape[-1])  # (batch, positions, channels)
        out_shape = (len(x), *self.output_shape)
        if self.reduce == "average":
            y = flat.mean(axis=1)
            n = flat.shape[1]
            return y.reshape(out_shape), lambda dy: np.broadcast_to(
                dy.reshape(len(x), 1, -1) / dy.dtype.type(n), flat.shape).reshape(x.shape)
        arg = flat.argmax(axis=1)[:, None]  # the first maximum, as TensorFlow and PyTorch
        y = np.take_along_axis(flat, arg, axis=1)

        def backward(dy):
            dflat = np.zeros_like(flat)
            np.put_along_axis(dflat, arg, dy.reshape(len(x), 1, -1), axis=1)
            return dflat.reshape(x.shape)

        return y.reshape(out_shape), backward

    def get_config(self):
        return {"data_format": self.data_format, "keepdims": self.keepdims, **super().get_config()}


@LAYERS.register("GlobalAveragePooling2D", "GlobalAvgPool2D")
class GlobalAveragePooling2D(_GlobalPool):
    """The mean over height and width: (batch, h, w, channels) -> (batch, channels), or (batch, 1, 1, channels)
    with keepdims."""

    reduce = "average"


@LAYERS.register("GlobalMaxPooling2D", "GlobalMaxPool2D")
class GlobalMaxPooling2D(_GlobalPool):
    """The maximum over height and width: (batch, h, w, channels) -> (batch, channels)."""


@LAYERS.register("GlobalMaxPooling1D", "GlobalMaxPool1D")
class GlobalMaxPooling1D(_GlobalPool):
    """The maximum over steps: (batch, steps, channels) -> (batch, channels)."""

    rank = 1
