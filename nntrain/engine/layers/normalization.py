"""BatchNormalization (over the batch) and LayerNormalization (over each example)."""

from __future__ import annotations

import numpy as np

from nntrain.engine.initializers import get_initializer
from nntrain.engine.layer import LAYERS, Layer, config_form
from nntrain.errors import ConfigError


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
            "beta_initializer": config_form(self.beta_initializer),
            "gamma_initializer": config_form(self.gamma_initializer),
            "moving_mean_initializer": config_form(self.moving_mean_initializer),
            "moving_variance_initializer": config_form(self.moving_variance_initializer),
            **super().get_config(),
        }


@LAYERS.register("LayerNormalization")
class LayerNormalization(Layer):
    """Normalizes each example over `axis` (by default its last axis, the features): no batch statistics, so
    training and inference compute the same thing.

    y = (x - mean) / sqrt(var + epsilon) * gamma + beta, mean and var over `axis` of one example; gamma and beta
    have the shape of those axes (Keras: epsilon 1e-3).

    Args:
        axis: an axis or a list of axes, counted with the batch as axis 0 like Keras (-1 = the last axis).
    """

    passes_mask = True  # as Keras (supports_masking): the output has the input's steps, so their mask still holds

    def __init__(
        self,
        axis: int | list = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        name: str | None = None,
        trainable: bool = True,
    ):
        super().__init__(name=name, trainable=trainable)
        axes = [axis] if isinstance(axis, int) and not isinstance(axis, bool) else axis
        if (not isinstance(axes, (list, tuple)) or not axes
                or not all(isinstance(a, int) and not isinstance(a, bool) and a != 0 for a in axes)):
            raise ConfigError(f"LayerNormalization(axis=...) expects a non-zero integer or a list of them (axis 0 is "
                              f"the batch), got axis={axis!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon <= 0:
            raise ConfigError(f"LayerNormalization(epsilon=...) expects a positive number, got {epsilon!r}")
        self.axis = axis if isinstance(axis, int) else list(axis)
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer = get_initializer(beta_initializer)
        self.gamma_initializer = get_initializer(gamma_initializer)
        self._axes: tuple[int, ...] = ()  # the normalized axes of a batch, set in build

    def compute_output_shape(self, input_shape):
        rank = len(input_shape) + 1  # with the batch axis
        axes = [self.axis] if isinstance(self.axis, int) else self.axis
        resolved = sorted({a % rank for a in axes if -rank <= a < rank})
        if len(resolved) != len(axes) or 0 in resolved or any(input_shape[a - 1] is None for a in resolved):
            raise self.shape_error(input_shape, f"axis {self.axis} to name distinct axes of known size")
        self._axes = tuple(resolved)
        return input_shape

    def create_params(self, input_shape):
        shape = tuple(input_shape[a - 1] for a in self._axes)
        if self.scale:
            self.params["gamma"] = self.gamma_initializer(shape, self.rng, self.dtype)
        if self.center:
            self.params["beta"] = self.beta_initializer(shape, self.rng, self.dtype)

    def forward(self, x, training):
        """x: (batch, ...) -> the same shape."""
        axes = self._axes
        # gamma and beta broadcast: their sizes on the normalized axes, 1 elsewhere
        bshape = tuple(d if i in axes else 1 for i, d in enumerate(x.shape))
        others = tuple(i for i in range(x.ndim) if i not in axes)
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        inv = 1 / np.sqrt((centered * centered).mean(axis=axes, keepdims=True) + x.dtype.type(self.epsilon))
        xhat = centered * inv
        gamma = self.params["gamma"].reshape(bshape) if self.scale else None
        y = xhat * gamma if self.scale else xhat.copy()
        if self.center:
            y += self.params["beta"].reshape(bshape)
        n = x.dtype.type(np.prod([x.shape[a] for a in axes]))

        def backward(dy):
            if self.trainable and self.scale:
                self.grads["gamma"][...] = (dy * xhat).sum(axis=others).reshape(self.grads["gamma"].shape)
            if self.trainable and self.center:
                self.grads["beta"][...] = dy.sum(axis=others).reshape(self.grads["beta"].shape)
            dxhat = dy * gamma if self.scale else dy
            # d/dx of the per-example normalized value, with its mean and variance depending on x
            return inv / n * (n * dxhat - dxhat.sum(axis=axes, keepdims=True)
                              - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True))

        return y, backward

    def get_config(self):
        return {
            "axis": self.axis, "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
            "beta_initializer": config_form(self.beta_initializer),
            "gamma_initializer": config_form(self.gamma_initializer),
            **super().get_config(),
        }
