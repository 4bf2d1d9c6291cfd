"""BatchNormalization."""

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
