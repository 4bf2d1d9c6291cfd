"""Sliding windows over the spatial axes of channels_last images, shared by convolution and pooling.

Every windowed layer works on 4-D arrays (batch, height, width, channels); the 1-D layers view a sequence
(batch, steps, channels) as an image of height 1. `Windows` holds the geometry of one layer on one input size
(kernel, strides, dilation, padding) and offers the two moves every such layer needs: a strided view of all windows
without copying (the input of im2col), and the slices of the padded input that one kernel offset touches (the
backward pass adds into them, one offset at a time, so no Python loop runs over pixels or examples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from nntrain.errors import ConfigError

PADDINGS = ("valid", "same")


def int_tuple(layer: str, arg: str, value, rank: int) -> tuple[int, ...]:
    """An int or a list of `rank` positive ints as a tuple, else ConfigError naming the layer and the argument."""
    values = (value,) * rank if isinstance(value, int) and not isinstance(value, bool) else value
    if (not isinstance(values, (list, tuple)) or len(values) != rank
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)):
        what = "a positive integer" if rank == 1 else f"a positive integer or a list of {rank} positive integers"
        raise ConfigError(f"{layer}({arg}=...) expects {what}, got {arg}={value!r}")
    return tuple(values)


def check_padding(layer: str, padding, allowed=PADDINGS) -> str:
    if padding not in allowed:
        raise ConfigError(f"{layer}(padding=...) expects one of {', '.join(map(repr, allowed))}, got {padding!r}")
    return padding


def check_data_format(layer: str, data_format) -> None:
    """Only channels_last (Keras's default) is implemented: the channels are the last axis of every example."""
    if data_format not in (None, "channels_last"):
        raise ConfigError(
            f"{layer}(data_format=...) supports 'channels_last' only (images as (height, width, channels)), got "
            f"{data_format!r}; move the channels last in the data (e.g. numpy.moveaxis) instead"
        )


def output_size(size: int | None, kernel: int, stride: int, dilation: int, padding: str) -> int | None:
    """Keras's output length of one spatial axis; None for a length known only at run time."""
    if size is None:
        return None
    if padding in ("same", "causal"):
        return -(-size // stride)
    return (size - (kernel - 1) * dilation - 1) // stride + 1


def _pads(size: int, kernel: int, stride: int, dilation: int, padding: str) -> tuple[int, int]:
    reach = (kernel - 1) * dilation + 1
    if padding == "causal":  # everything before the first step: output t sees inputs <= t only
        return reach - 1, 0
    if padding == "valid":
        return 0, 0
    # 'same' as TensorFlow: the smaller half before, the larger half after
    total = max((output_size(size, kernel, stride, dilation, padding) - 1) * stride + reach - size, 0)
    return total // 2, total - total // 2


@dataclass(frozen=True)
class Windows:
    """The windows of one layer over an input of spatial size `size` (height, width).

    Attributes:
        kernel, strides, dilation: (height, width) each.
        pads: ((top, bottom), (left, right)) zeros (or `fill`) around the input.
        out: (out_height, out_width).
    """

    size: tuple[int, int]
    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    out: tuple[int, int]

    @classmethod
    def of(cls, size, kernel, strides, dilation, padding) -> Windows:
        pads = tuple(_pads(*a, padding) for a in zip(size, kernel, strides, dilation))
        out = tuple(output_size(*a, padding) for a in zip(size, kernel, strides, dilation))
        return cls(tuple(size), tuple(kernel), tuple(strides), tuple(dilation), pads, out)

    @property
    def padded(self) -> bool:
        return any(p for pair in self.pads for p in pair)

    def pad(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """x: (batch, height, width, channels) -> the same surrounded by `pads` of `fill`."""
        if not self.padded:
            return x
        return np.pad(x, ((0, 0), *self.pads, (0, 0)), constant_values=fill)

    def view(self, xp: np.ndarray) -> np.ndarray:
        """Every window of the padded input, without copying.

        Args:
            xp: (batch, padded_height, padded_width, channels), as returned by `pad`.

        Returns:
            A read-only view (batch, out_height, out_width, kernel_height, kernel_width, channels).
        """
        b, h, w, c = xp.strides
        (sh, sw), (dh, dw) = self.strides, self.dilation
        shape = (xp.shape[0], *self.out, *self.kernel, xp.shape[3])
        return as_strided(xp, shape, (b, h * sh, w * sw, h * dh, w * dw, c), writeable=False)

    def offsets(self):
        """For each kernel offset (i, j): i, j and the slices of the padded input it reads at every output position,
        so that `xp[:, rows, cols]` has shape (batch, out_height, out_width, channels)."""
        (sh, sw), (dh, dw), (oh, ow) = self.strides, self.dilation, self.out
        for i in range(self.kernel[0]):
            for j in range(self.kernel[1]):
                yield i, j, slice(i * dh, i * dh + (oh - 1) * sh + 1, sh), slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)

    def padded_zeros(self, batch: int, channels: int, dtype) -> np.ndarray:
        (t, b), (l, r) = self.pads
        return np.zeros((batch, self.size[0] + t + b, self.size[1] + l + r, channels), dtype)

    def crop(self, dxp: np.ndarray) -> np.ndarray:
        """The gradient of the padded input -> the gradient of the input itself (padding receives none)."""
        if not self.padded:
            return dxp
        (t, _), (l, _) = self.pads
        return dxp[:, t:t + self.size[0], l:l + self.size[1]]

    def col2im(self, dz: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        """The input's gradient of a convolution: the adjoint of im2col and the product with `kernel`.

        For each kernel offset (i, j), every window's gradient at that offset, dz @ kernel[i, j].T, is added onto
        the pixels it was read from: one product and one strided add per offset, never one per pixel. (One product
        for all offsets would write a (rows, kh * kw * channels) matrix first and then read it back with a stride:
        a third slower.)

        Args:
            dz: (batch * out_height * out_width, filters), the gradient of the convolution's output.
            kernel: (kernel_height, kernel_width, channels, filters).

        Returns:
            (batch, height, width, channels).
        """
        (oh, ow), channels = self.out, kernel.shape[2]
        batch = len(dz) // (oh * ow)
        dxp = self.padded_zeros(batch, channels, dz.dtype)
        for i, j, rows, cols in self.offsets():
            dxp[:, rows, cols] += np.dot(dz, kernel[i, j].T).reshape(batch, oh, ow, channels)
        return self.crop(dxp)

def as_image(x: np.ndarray) -> np.ndarray:
    """(batch, steps, channels) -> (batch, 1, steps, channels): a sequence is an image of height 1 (a view)."""
    return x[:, None]


def spatial_size(shape, rank: int, layer) -> tuple:
    """The spatial sizes of a per-example shape (..., channels) of `rank` spatial axes, else the layer's ShapeError."""
    if len(shape) != rank + 1 or shape[-1] is None:
        what = "(None, steps, channels)" if rank == 1 else "(None, height, width, channels)"
        raise layer.shape_error(shape, f"a {rank + 2}-D input {what} with a known number of channels")
    return tuple(shape[:-1])


def too_small(layer, shape, out) -> None:
    """Raise the layer's ShapeError when a window does not fit in the input even once."""
    if any(o is not None and o < 1 for o in out):
        raise layer.shape_error(shape, "an input at least as large as the window on every spatial axis "
                                       "(or padding='same')")

