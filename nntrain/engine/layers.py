"""The layers: Input, Dense, Activation, Dropout, Flatten, Reshape, Concatenate, Add, BatchNormalization,
Embedding, GlobalAveragePooling1D. Keras names, arguments and defaults."""

from __future__ import annotations

import math

import numpy as np

from nntrain.engine.activations import get_activation
from nntrain.engine.initializers import get_initializer
from nntrain.engine.kernels import ones
from nntrain.engine.layer import Layer, format_shape
from nntrain.engine.regularizers import get_regularizer
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError
from nntrain.registry import Registry

LAYERS = Registry("layer")


def _positive_int(layer: str, arg: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{layer}({arg}=...) expects a positive integer, got {arg}={value!r}")
    return value


def _shape_tuple(layer: str, arg: str, value) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and (d > 0 or d == -1)) for d in value
    ):
        raise ConfigError(f"{layer}({arg}=...) expects a list of positive integers, got {arg}={value!r}")
    return tuple(value)


def _config(spec):
    """Initializer/regularizer/activation objects back to their config form for get_config()."""
    if spec is None or isinstance(spec, (str, int, float)):
        return spec
    cfg = spec.get_config()
    return {"name": spec.registered_name, **cfg} if cfg else spec.registered_name


@LAYERS.register("Input", "InputLayer")
class Input(Layer):
    """A model input of a fixed per-example shape, e.g. Input(shape=[784]). Its output is the data itself."""

    def __init__(self, shape, name: str | None = None, sparse: bool = False, dtype: str = "float32"):
        super().__init__(name=name, trainable=False)
        self.shape = _shape_tuple("Input", "shape", shape)
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


def _dot(a, b) -> np.ndarray:
    """a @ b; np.dot for 2-D arrays: the same BLAS call as @ with less dispatch (a third of a small step)."""
    return np.dot(a, b) if isinstance(a, np.ndarray) and a.ndim == 2 else a @ b


def _rows(a):
    """(batch, ..., n) -> (batch * ..., n); 2-D arrays (and multi-hot matrices) as they are."""
    return a if isinstance(a, MultiHot) or a.ndim == 2 else a.reshape(-1, a.shape[-1])


@LAYERS.register("Dense")
class Dense(Layer):
    """y = activation(x @ kernel + bias) on the last axis.

    Args:
        units: output width.
        activation: name or config of an activation (default linear).
        x: (batch, ..., features) dense array, or a MultiHot (batch, features) consumed sparsely.
    """

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
        self.units = _positive_int("Dense", "units", units)
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
        z = _dot(x, kernel)
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
            x2, dz2 = _rows(x), _rows(dz)  # (batch, ..., n) -> (batch * ..., n): every position is one more row
            if self.trainable:
                self.set_grad_product("kernel", x2, dz2)  # dL/dkernel = x.T @ dz
                if self.use_bias:  # dL/dbias = dz summed over the rows, as a product: 2-10x faster than a sum
                    np.dot(ones(len(dz2), dz2.dtype), dz2, out=self.grads["bias"])
            if isinstance(x, MultiHot) or not self.needs_input_grad:
                return None
            dx = _dot(dz2, kernel.T)  # dL/dx = dz @ kernel.T
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
            "activation": _config(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _config(self.kernel_initializer),
            "bias_initializer": _config(self.bias_initializer),
            "kernel_regularizer": _config(self.kernel_regularizer),
            "bias_regularizer": _config(self.bias_regularizer),
            "activity_regularizer": _config(self.activity_regularizer),
            **super().get_config(),
        }


@LAYERS.register("Activation")
class Activation(Layer):
    """Applies an activation function: Activation("relu")."""

    def __init__(self, activation, name: str | None = None, trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        self.activation = get_activation(activation)
        self.emit_logits = False

    def forward(self, x, training):
        if self.emit_logits:
            return x, lambda dy: dy
        return self.activation(x)

    def get_config(self):
        return {"activation": _config(self.activation), **super().get_config()}


@LAYERS.register("Dropout")
class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability `rate` and scale the rest by
    1 / (1 - rate); at inference, the identity."""

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
        mask = (self.rng.random(x.shape, dtype=np.float32) < keep) * x.dtype.type(1.0 / keep)
        return x * mask, lambda dy: dy * mask

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, **super().get_config()}


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
        self.target_shape = _shape_tuple("Reshape", "target_shape", target_shape)
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


@LAYERS.register("BatchNormalization")
class BatchNormalization(Layer):
    """Normalizes the last axis with batch statistics in training and moving averages at inference.

    moving = momentum * moving + (1 - momentum) * batch_stat (Keras: momentum 0.99, epsilon 1e-3;
    the moving variance uses the biased batch variance, as Keras 3 does). A frozen BatchNormalization
    (trainable=False) runs in inference mode, as in Keras.
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        name: str | None = None,
        trainable: bool = True,
    ):
        super().__init__(name=name, trainable=trainable)
        if axis != -1:
            raise ConfigError(f"BatchNormalization(axis=...) supports the last axis (-1) only, got axis={axis!r}")
        if not 0 <= momentum < 1:
            raise ConfigError(f"BatchNormalization(momentum=...) expects a number in [0, 1), got {momentum!r}")
        if epsilon <= 0:
            raise ConfigError(f"BatchNormalization(epsilon=...) expects a positive number, got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = get_initializer(beta_initializer)
        self.gamma_initializer = get_initializer(gamma_initializer)
        self.moving_mean_initializer = get_initializer(moving_mean_initializer)
        self.moving_variance_initializer = get_initializer(moving_variance_initializer)

    def compute_output_shape(self, input_shape):
        if not input_shape or input_shape[-1] is None:
            raise self.shape_error(input_shape, "a last axis of known size")
        return input_shape

    def create_params(self, input_shape):
        n = (input_shape[-1],)
        if self.scale:
            self.params["gamma"] = self.gamma_initializer(n, self.rng, self.dtype)
        if self.center:
            self.params["beta"] = self.beta_initializer(n, self.rng, self.dtype)
        self.state["moving_mean"] = self.moving_mean_initializer(n, self.rng, self.dtype)
        self.state["moving_variance"] = self.moving_variance_initializer(n, self.rng, self.dtype)

    def forward(self, x, training):
        t = x.dtype.type
        gamma = self.params.get("gamma")
        axes = tuple(range(x.ndim - 1))
        if not (training and self.trainable):
            inv = 1 / np.sqrt(self.state["moving_variance"] + t(self.epsilon))
            scale = inv if gamma is None else inv * gamma
            y = (x - self.state["moving_mean"]) * scale
            if self.center:
                y += self.params["beta"]

            def backward_inference(dy):
                if self.trainable:
                    xhat = (x - self.state["moving_mean"]) * inv
                    if self.scale:
                        np.sum(dy * xhat, axis=axes, out=self.grads["gamma"])
                    if self.center:
                        np.sum(dy, axis=axes, out=self.grads["beta"])
                return dy * scale

            return y, backward_inference
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        m = t(self.momentum)
        self.state["moving_mean"] *= m
        self.state["moving_mean"] += (1 - m) * mean
        self.state["moving_variance"] *= m
        self.state["moving_variance"] += (1 - m) * var
        inv = 1 / np.sqrt(var + t(self.epsilon))
        xhat = (x - mean) * inv
        y = xhat * gamma if gamma is not None else xhat.copy()
        if self.center:
            y += self.params["beta"]
        n = t(x.size // x.shape[-1])

        def backward(dy):
            if self.scale:
                np.sum(dy * xhat, axis=axes, out=self.grads["gamma"])
            if self.center:
                np.sum(dy, axis=axes, out=self.grads["beta"])
            dxhat = dy * gamma if gamma is not None else dy
            # d/dx of the batch-normalized value, with mean and variance depending on x
            return inv / n * (n * dxhat - dxhat.sum(axis=axes) - xhat * (dxhat * xhat).sum(axis=axes))

        return y, backward

    def get_config(self):
        return {
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": _config(self.beta_initializer),
            "gamma_initializer": _config(self.gamma_initializer),
            "moving_mean_initializer": _config(self.moving_mean_initializer),
            "moving_variance_initializer": _config(self.moving_variance_initializer),
            **super().get_config(),
        }


@LAYERS.register("Embedding")
class Embedding(Layer):
    """Integer ids (batch, length) -> vectors (batch, length, output_dim) by row lookup.

    Ids must lie in [0, input_dim). Default initializer: random_uniform(-0.05, 0.05) as in Keras.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer="random_uniform",
        embeddings_regularizer=None,
        name: str | None = None,
        trainable: bool = True,
    ):
        super().__init__(name=name, trainable=trainable)
        self.input_dim = _positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = _positive_int("Embedding", "output_dim", output_dim)
        self.embeddings_initializer = get_initializer(embeddings_initializer)
        self.embeddings_regularizer = get_regularizer(embeddings_regularizer)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise self.shape_error(input_shape, "integer sequences of shape (None, length)")
        return (input_shape[0], self.output_dim)

    def create_params(self, input_shape):
        self.params["embeddings"] = self.embeddings_initializer((self.input_dim, self.output_dim), self.rng,
                                                                self.dtype)

    def forward(self, x, training):
        ids = np.asarray(x)
        if ids.dtype.kind == "f":
            ids = ids.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            bad = int(ids.max()) if ids.max() >= self.input_dim else int(ids.min())
            raise ConfigError(
                f"layer `{self.name}` (Embedding) got token id {bad}, outside [0, {self.input_dim}); "
                f"raise input_dim or limit the vocabulary (num_words)"
            )
        table = self.params["embeddings"]
        y = table[ids]

        def backward(dy):
            if self.trainable:
                grad = self.grads["embeddings"]
                grad.fill(0)
                np.add.at(grad, ids.reshape(-1), dy.reshape(-1, self.output_dim))
            return None

        return y, backward

    @property
    def regularized(self):
        return self.embeddings_regularizer is not None

    def penalty(self):
        if self.embeddings_regularizer is None:
            return 0.0
        return self.embeddings_regularizer.penalty(self.params["embeddings"])

    def add_penalty_grads(self):
        if self.embeddings_regularizer is not None and self.trainable:
            self.embeddings_regularizer.add_gradient(self.params["embeddings"], self.grads["embeddings"])

    def get_config(self):
        return {
            "input_dim": self.input_dim, "output_dim": self.output_dim,
            "embeddings_initializer": _config(self.embeddings_initializer),
            "embeddings_regularizer": _config(self.embeddings_regularizer),
            **super().get_config(),
        }


@LAYERS.register("GlobalAveragePooling1D")
class GlobalAveragePooling1D(Layer):
    """(batch, steps, features) -> (batch, features): the mean over steps."""

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise self.shape_error(input_shape, "a 3-D input (None, steps, features)")
        return (input_shape[1],)

    def forward(self, x, training):
        steps = x.shape[1]
        y = x.mean(axis=1)
        return y, lambda dy: np.broadcast_to(dy[:, None, :] / dy.dtype.type(steps), x.shape).copy()


def layer_from_config(class_name: str, config: dict) -> Layer:
    """Rebuild a layer from its registered class name and get_config() dict."""
    return LAYERS.get(class_name)(**config)


__all__ = ["LAYERS", "layer_from_config", "format_shape"]
