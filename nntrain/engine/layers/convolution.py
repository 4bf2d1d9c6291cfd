"""Convolutions over channels_last inputs: Conv2D (images) and Conv1D (sequences).

A convolution is a Dense layer applied to every window of its input, and is written as one: im2col copies the
windows into the rows of a matrix (batch * out_height * out_width, kernel_height * kernel_width * channels), one
BLAS product with the kernel gives every output, and the backward pass is one product for the kernel's gradient and
col2im for the input's, which adds the windows' gradients back one kernel offset at a time. The activation, the
regularizers and their penalties are Dense's own.
"""

from __future__ import annotations

import numpy as np

from nntrain.engine.kernels import ones
from nntrain.engine.layer import LAYERS, positive_int
from nntrain.engine.layers.core import Dense
from nntrain.engine.layers.windows import (
    PADDINGS,
    Windows,
    check_data_format,
    check_padding,
    int_tuple,
    output_size,
    spatial_size,
    too_small,
)
from nntrain.errors import ConfigError


class _Conv(Dense):
    """The shared maths of Conv1D and Conv2D; `rank` is the number of spatial axes.

    Kernel: (*kernel_size, in_channels, filters) as Keras stores it; bias: (filters,).
    """

    rank = 2
    product_params = ()  # the kernel's gradient is a product too, but of im2col columns: not offered for fusing
    # Dense passes a sequence's mask on (it reads each step alone); a convolution mixes neighbouring steps and may
    # change their number, so, as in Keras, the mask stops here
    passes_mask = False
    paddings = PADDINGS

    def _setup(self, filters, kernel_size, strides, padding, data_format, dilation_rate, **dense_args):
        layer = type(self).__name__
        positive_int(layer, "filters", filters)
        check_data_format(layer, data_format)
        super().__init__(filters, **dense_args)
        self.filters = filters
        self.kernel_size = int_tuple(layer, "kernel_size", kernel_size, self.rank)
        self.strides = int_tuple(layer, "strides", strides, self.rank)
        self.dilation_rate = int_tuple(layer, "dilation_rate", dilation_rate, self.rank)
        self.padding = check_padding(layer, padding, self.paddings)
        self.data_format = data_format
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            # Keras refuses this combination too
            raise ConfigError(f"{layer}: strides > 1 cannot be combined with dilation_rate > 1, got "
                              f"strides={strides!r}, dilation_rate={dilation_rate!r}")
        self._geometry: dict[tuple, Windows] = {}

    def _2d(self, values: tuple) -> tuple:
        return values if self.rank == 2 else (1, *values)

    def windows(self, size: tuple) -> Windows:
        """The window geometry over spatial `size` (height, width), computed once per input size."""
        geometry = self._geometry.get(size)
        if geometry is None:
            geometry = Windows.of(size, self._2d(self.kernel_size), self._2d(self.strides),
                                  self._2d(self.dilation_rate), self.padding)
            self._geometry[size] = geometry
        return geometry

    def compute_output_shape(self, input_shape):
        size = spatial_size(input_shape, self.rank, self)
        out = tuple(output_size(*a, self.padding) for a in zip(size, self.kernel_size, self.strides,
                                                                self.dilation_rate))
        too_small(self, input_shape, out)
        return (*out, self.filters)

    def create_params(self, input_shape):
        shape = (*self.kernel_size, input_shape[-1], self.filters)
        self.params["kernel"] = self.kernel_initializer(shape, self.rng, self.dtype)
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.filters,), self.rng, self.dtype)

    def forward(self, x, training):
        """x: (batch, *spatial, channels) -> (batch, *out_spatial, filters)."""
        img = x if self.rank == 2 else x[:, None]  # a sequence is an image of height 1
        win = self.windows(img.shape[1:3])
        kernel = self.params["kernel"].reshape(-1, self.filters)  # (kh * kw * channels, filters), a view
        cols = win.view(win.pad(img)).reshape(-1, kernel.shape[0])  # im2col: the one copy of the windows
        z = np.dot(cols, kernel)
        if self.use_bias:
            z += self.params["bias"]
        out_shape = (len(x), *win.out[2 - self.rank:], self.filters)
        z = z.reshape(out_shape)
        y, act_backward = (z, None) if self.emit_logits else self.activation(z)
        if self.activity_regularizer is not None:
            self._activity_penalty = self.activity_regularizer.penalty(y) / len(y)  # per example, as Keras

        def backward(dy):
            if self.activity_regularizer is not None:
                dy = dy.copy()
                self.activity_regularizer.add_gradient(y, dy, scale=1.0 / len(y))
            dz = (dy if act_backward is None else act_backward(dy)).reshape(-1, self.filters)
            if self.trainable:
                np.dot(cols.T, dz, out=self.grads["kernel"].reshape(kernel.shape))
                if self.use_bias:
                    np.dot(ones(len(dz), dz.dtype), dz, out=self.grads["bias"])
            if not self.needs_input_grad:
                return None
            # the kernel as (kh, kw, channels, filters): a Conv1D's (k, channels, filters) with a height of 1
            return win.col2im(dz, kernel.reshape(*win.kernel, img.shape[-1], self.filters)).reshape(x.shape)

        return y, backward

    def get_config(self):
        cfg = super().get_config()
        del cfg["units"]
        return {
            "filters": self.filters, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
            "padding": self.padding, "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
            **cfg,
        }


@LAYERS.register("Conv2D", "Convolution2D")
class Conv2D(_Conv):
    """2-D convolution over images (batch, height, width, channels) -> (batch, out_h, out_w, filters).

    Args:
        filters: number of output channels.
        kernel_size: window (height, width), or one int for a square window.
        strides: step between windows, per axis (default 1).
        padding: 'valid' (windows inside the image only) or 'same' (zeros around it; out = ceil(in / stride)).
        dilation_rate: spacing between the kernel's taps (atrous convolution).
    """

    rank = 2

    def __init__(
        self,
        filters: int,
        kernel_size: int | list,
        strides: int | list = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | list = (1, 1),
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        name: str | None = None,
        trainable: bool = True,
    ):
        self._setup(filters, kernel_size, strides, padding, data_format, dilation_rate, activation=activation,
                    use_bias=use_bias, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                    kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                    activity_regularizer=activity_regularizer, name=name, trainable=trainable)


@LAYERS.register("Conv1D", "Convolution1D")
class Conv1D(_Conv):
    """1-D convolution over sequences (batch, steps, channels) -> (batch, out_steps, filters).

    Args:
        padding: 'valid', 'same', or 'causal' (zeros before the sequence only: output t sees steps <= t).
        Others as Conv2D, with single integers.
    """

    rank = 1
    paddings = (*PADDINGS, "causal")

    def __init__(
        self,
        filters: int,
        kernel_size: int | list,
        strides: int | list = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | list = 1,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        name: str | None = None,
        trainable: bool = True,
    ):
        self._setup(filters, kernel_size, strides, padding, data_format, dilation_rate, activation=activation,
                    use_bias=use_bias, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                    kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                    activity_regularizer=activity_regularizer, name=name, trainable=trainable)

