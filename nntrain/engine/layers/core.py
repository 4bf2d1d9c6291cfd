"""The core layers: Input, Dense, Activation, Dropout, SpatialDropout1D, SpatialDropout2D."""

from __future__ import annotations

import numpy as np

from nntrain.engine.activations import get_activation
from nntrain.engine.initializers import get_initializer
from nntrain.engine.kernels import ones
from nntrain.engine.layer import LAYERS, Layer, config_form, positive_int, shape_tuple
from nntrain.engine.layers.windows import check_data_format
from nntrain.engine.regularizers import get_regularizer
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError


@LAYERS.register("Input", "InputLayer")
class Input(Layer):
    """A model input of a fixed per-example shape, e.g. Input(shape=[784]). Its output is the data itself."""

    def __init__(self, shape, name: str | None = None, sparse: bool = False, dtype: str = "float32"):
        super().__init__(name=name, trainable=False)
        self.shape = shape_tuple("Input", "shape", shape)
        self.sparse = bool(sparse)
        if dtype not in ("float32", "float64", "int32", "int64"):
            raise ConfigError(f"Input(dtype=...) expects float32, float64, int32 or int64, got {dtype!r}")
        self.input_dtype = dtype

    def compute_output_shape(self, input_shape=None):
        return self.shape

    def forward(self, x, training):
        return x, lambda dy: None

    def get_config(self):
        return {"shape": list(self.shape), "name": self.name, "sparse": self.sparse, "dtype": self.input_dtype}


@LAYERS.register("Dense")
class Dense(Layer):
    """y = activation(x @ kernel + bias) on the last axis.

    Args:
        units: output width.
        activation: name or config of an activation (default linear).
        x: (batch, ..., features) dense array, or a MultiHot (batch, features) consumed sparsely.
    """

    passes_mask = True  # works on each step alone, so the steps a mask hides stay hidden

    product_params = ("kernel",)

    def __init__(
        self,
        units: int,
        activation="linear",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        name: str | None = None,
        trainable: bool = True,
    ):
        super().__init__(name=name, trainable=trainable)
        self.units = positive_int("Dense", "units", units)
        self.activation = get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.bias_initializer = get_initializer(bias_initializer)
        self.kernel_regularizer = get_regularizer(kernel_regularizer)
        self.bias_regularizer = get_regularizer(bias_regularizer)
        self.activity_regularizer = get_regularizer(activity_regularizer)
        self.emit_logits = False  # set by the model when the loss fuses with this layer's activation
        self._activity_penalty = 0.0

    def compute_output_shape(self, input_shape):
        if not input_shape or input_shape[-1] is None:
            raise self.shape_error(input_shape, "a last axis of known size")
        return (*input_shape[:-1], self.units)

    def create_params(self, input_shape):
        fan_in = input_shape[-1]
        self.params["kernel"] = self.kernel_initializer((fan_in, self.units), self.rng, self.dtype)
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.units,), self.rng, self.dtype)

    def forward(self, x, training):
        kernel = self.params["kernel"]
        sparse = isinstance(x, MultiHot)
        # np.dot rather than @ for matrices: the same BLAS call, with less dispatch (a third of a small step)
        z = np.dot(x, kernel) if not sparse and x.ndim == 2 else x @ kernel
        if self.use_bias:
            z += self.params["bias"]
        y, act_backward = (z, None) if self.emit_logits else self.activation(z)
        if self.activity_regularizer is not None:
            # Keras divides the activity penalty by the batch size.
            self._activity_penalty = self.activity_regularizer.penalty(y) / len(y)

        def backward(dy):
            if self.activity_regularizer is not None:
                dy = dy.copy()
                self.activity_regularizer.add_gradient(y, dy, scale=1.0 / len(y))
            dz = dy if act_backward is None else act_backward(dy)
            # (batch, ..., n) -> (batch * ..., n): every position is one more row
            x2, dz2 = (x, dz) if dz.ndim == 2 else (x.reshape(-1, x.shape[-1]), dz.reshape(-1, self.units))
            if self.trainable:
                self.set_grad_product("kernel", x2, dz2)  # dL/dkernel = x.T @ dz
                if self.use_bias:  # dL/dbias = dz summed over the rows, as a product: 2-10x faster than a sum
                    np.dot(ones(len(dz2), dz2.dtype), dz2, out=self.grads["bias"])
            if sparse or not self.needs_input_grad:
                return None
            dx = np.dot(dz2, kernel.T)  # dL/dx = dz @ kernel.T
            return dx if dz2 is dz else dx.reshape(*dz.shape[:-1], kernel.shape[0])

        return y, backward

    @property
    def regularized(self):
        return any(r is not None for r in (self.kernel_regularizer, self.bias_regularizer, self.activity_regularizer))

    def penalty(self):
        total = self._activity_penalty
        if self.kernel_regularizer is not None:
            total += self.kernel_regularizer.penalty(self.params["kernel"])
        if self.bias_regularizer is not None and self.use_bias:
            total += self.bias_regularizer.penalty(self.params["bias"])
        return total

    def add_penalty_grads(self):
        if not self.trainable:
            return
        if self.kernel_regularizer is not None:
            self.kernel_regularizer.add_gradient(self.params["kernel"], self.grads["kernel"])
        if self.bias_regularizer is not None and self.use_bias:
            self.bias_regularizer.add_gradient(self.params["bias"], self.grads["bias"])

    def get_config(self):
        return {
            "units": self.units,
            "activation": config_form(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": config_form(self.kernel_initializer),
            "bias_initializer": config_form(self.bias_initializer),
            "kernel_regularizer": config_form(self.kernel_regularizer),
            "bias_regularizer": config_form(self.bias_regularizer),
            "activity_regularizer": config_form(self.activity_regularizer),
            **super().get_config(),
        }


@LAYERS.register("Activation")
class Activation(Layer):
    """Applies an activation function: Activation("relu")."""

    passes_mask = True  # works on each step alone, so the steps a mask hides stay hidden

    def __init__(self, activation, name: str | None = None, trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        self.activation = get_activation(activation)
        self.emit_logits = False

    def forward(self, x, training):
        if self.emit_logits:
            return x, lambda dy: dy
        return self.activation(x)

    def get_config(self):
        return {"activation": config_form(self.activation), **super().get_config()}


@LAYERS.register("Dropout")
class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability `rate` and scale the rest by
    1 / (1 - rate); at inference, the identity."""

    passes_mask = True  # works on each step alone, so the steps a mask hides stay hidden

    def __init__(self, rate: float, seed: int | None = None, name: str | None = None, trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ConfigError(f"Dropout(rate=...) expects a number in [0, 1), got rate={rate!r}")
        self.rate = float(rate)
        self.seed = seed

    def create_params(self, input_shape):
        if self.seed is not None:
            self.rng = np.random.default_rng(self.seed)

    def forward(self, x, training):
        if not training or self.rate == 0:
            return x, lambda dy: dy
        keep = 1.0 - self.rate
        mask = (self.rng.random(self.noise_shape(x), dtype=np.float32) < keep) * x.dtype.type(1.0 / keep)
        return x * mask, lambda dy: dy * mask

    def noise_shape(self, x) -> tuple:
        """The shape of the mask, broadcast over x: one draw per value."""
        return x.shape

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, **super().get_config()}


@LAYERS.register("SpatialDropout1D")
class SpatialDropout1D(Dropout):
    """Dropout of whole channels: in training, each example loses each channel at every step at once.

    Neighbouring steps of a convolution's output are strongly correlated, so dropping single values regularizes
    little; x: (batch, steps, channels), one draw per (example, channel).
    """

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise self.shape_error(input_shape, "a 3-D input (None, steps, channels)")
        return input_shape

    def noise_shape(self, x):
        return (len(x), 1, x.shape[-1])


@LAYERS.register("SpatialDropout2D")
class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps: x: (batch, height, width, channels), one draw per (example, channel)."""

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None,
                 name: str | None = None, trainable: bool = True):
        super().__init__(rate, seed=seed, name=name, trainable=trainable)
        check_data_format("SpatialDropout2D", data_format)
        self.data_format = data_format

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise self.shape_error(input_shape, "a 4-D input (None, height, width, channels)")
        return input_shape

    def noise_shape(self, x):
        return (len(x), 1, 1, x.shape[-1])

    def get_config(self):
        return {"data_format": self.data_format, **super().get_config()}
