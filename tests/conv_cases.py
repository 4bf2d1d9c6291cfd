"""The convolutional family's rows in the every-registered-layer tables of test_gradients.py (finite differences)
and test_layers.py (config round trips, float32 by default), kept here so those tables gain one line each."""

from __future__ import annotations

import numpy as np

from nntrain.engine.layers import (
    AveragePooling2D,
    Conv1D,
    Conv2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    LayerNormalization,
    MaxPooling1D,
    MaxPooling2D,
    SpatialDropout1D,
    SpatialDropout2D,
    UpSampling2D,
    ZeroPadding2D,
)


def _normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def _distinct(*shape):
    # max pooling: values at least 0.1 apart, so a finite-difference step never changes which one is largest
    return lambda rng: rng.permutation(np.arange(np.prod(shape)) * 0.1 - 1.0).reshape(shape)


RANDOM_BIAS = {"bias_initializer": "random_normal"}

# name -> the keyword arguments of test_gradients.Case (make, inputs, training, input_grad, reseed)
GRADIENT_CASES: dict[str, list[dict]] = {
    "Conv2D": [
        {"make": lambda: Conv2D(3, 3, activation="tanh", **RANDOM_BIAS), "inputs": _normal(2, 5, 6, 2)},
        {"make": lambda: Conv2D(2, (2, 3), strides=(2, 1), padding="same", **RANDOM_BIAS),
         "inputs": _normal(2, 5, 4, 3)},
        {"make": lambda: Conv2D(2, 2, dilation_rate=2, padding="same", use_bias=False),
         "inputs": _normal(2, 5, 5, 2)},
        {"make": lambda: Conv2D(2, 3, strides=2, activation="elu"),
         "inputs": _normal(2, 6, 7, 1)},
    ],
    "Conv1D": [
        {"make": lambda: Conv1D(3, 3, activation="sigmoid", **RANDOM_BIAS), "inputs": _normal(2, 7, 2)},
        {"make": lambda: Conv1D(2, 2, strides=2, padding="same"), "inputs": _normal(2, 7, 3)},
        {"make": lambda: Conv1D(2, 2, dilation_rate=2, padding="causal", **RANDOM_BIAS), "inputs": _normal(2, 6, 2)},
    ],
    "MaxPooling2D": [
        {"make": lambda: MaxPooling2D(), "inputs": _distinct(2, 5, 4, 2)},
        {"make": lambda: MaxPooling2D((3, 2), strides=(1, 2), padding="same"), "inputs": _distinct(2, 4, 5, 2)},
    ],
    "AveragePooling2D": [
        {"make": lambda: AveragePooling2D(), "inputs": _normal(2, 4, 5, 2)},
        {"make": lambda: AveragePooling2D(3, strides=2, padding="same"), "inputs": _normal(2, 5, 4, 2)},
    ],
    "MaxPooling1D": [
        {"make": lambda: MaxPooling1D(), "inputs": _distinct(2, 7, 3)},
        {"make": lambda: MaxPooling1D(3, strides=2, padding="same"), "inputs": _distinct(2, 6, 2)},
    ],
    "GlobalAveragePooling2D": [{"make": lambda: GlobalAveragePooling2D(), "inputs": _normal(2, 3, 4, 2)},
                               {"make": lambda: GlobalAveragePooling2D(keepdims=True), "inputs": _normal(2, 2, 3, 2)}],
    "GlobalMaxPooling2D": [{"make": lambda: GlobalMaxPooling2D(), "inputs": _distinct(2, 3, 4, 2)}],
    "GlobalMaxPooling1D": [{"make": lambda: GlobalMaxPooling1D(keepdims=True), "inputs": _distinct(3, 5, 2)}],
    "SpatialDropout1D": [{"make": lambda: SpatialDropout1D(0.5), "inputs": _normal(4, 3, 5), "reseed": True}],
    "SpatialDropout2D": [{"make": lambda: SpatialDropout2D(0.5), "inputs": _normal(4, 2, 3, 5), "reseed": True},
                         {"make": lambda: SpatialDropout2D(0.5), "inputs": _normal(2, 2, 2, 3), "training": False}],
    "LayerNormalization": [
        {"make": lambda: LayerNormalization(gamma_initializer="random_normal", beta_initializer="random_normal"),
         "inputs": _normal(3, 5)},
        {"make": lambda: LayerNormalization(axis=[1, 2], gamma_initializer="random_normal"),
         "inputs": _normal(2, 3, 4)},
        {"make": lambda: LayerNormalization(axis=1, center=False, scale=False), "inputs": _normal(2, 4, 3)},
    ],
    "ZeroPadding2D": [{"make": lambda: ZeroPadding2D(((1, 0), (2, 1))), "inputs": _normal(2, 3, 2, 2)}],
    "UpSampling2D": [{"make": lambda: UpSampling2D((2, 3)), "inputs": _normal(2, 2, 3, 2)}],
}

# name -> constructors for the get_config round trip: the defaults, and every argument away from its default
CONFIG_CASES: dict[str, list] = {
    "Conv2D": [lambda: Conv2D(8, 3),
               lambda: Conv2D(4, (3, 5), strides=[2, 1], padding="same", data_format="channels_last",
                              activation={"name": "leaky_relu", "alpha": 0.2}, use_bias=False,
                              kernel_initializer="he_normal", bias_initializer={"name": "constant", "value": 0.1},
                              kernel_regularizer={"name": "l2", "l2": 0.001}, bias_regularizer="l1",
                              activity_regularizer="l2", name="conv", trainable=False),
               lambda: Conv2D(2, 3, dilation_rate=2)],
    "Conv1D": [lambda: Conv1D(16, 5), lambda: Conv1D(4, 3, strides=2, padding="causal", activation="relu")],
    "MaxPooling2D": [lambda: MaxPooling2D(), lambda: MaxPooling2D(3, strides=(1, 2), padding="same", name="mp")],
    "AveragePooling2D": [lambda: AveragePooling2D((2, 3), padding="same")],
    "MaxPooling1D": [lambda: MaxPooling1D(), lambda: MaxPooling1D(4, strides=1, padding="same")],
    "GlobalAveragePooling2D": [lambda: GlobalAveragePooling2D(keepdims=True, name="gap")],
    "GlobalMaxPooling2D": [lambda: GlobalMaxPooling2D()],
    "GlobalMaxPooling1D": [lambda: GlobalMaxPooling1D(data_format="channels_last")],
    "SpatialDropout1D": [lambda: SpatialDropout1D(0.2, seed=3)],
    "SpatialDropout2D": [lambda: SpatialDropout2D(0.3, data_format="channels_last", seed=1, name="sd")],
    "LayerNormalization": [lambda: LayerNormalization(),
                           lambda: LayerNormalization(axis=[-2, -1], epsilon=1e-5, center=False,
                                                      gamma_initializer="random_normal")],
    "ZeroPadding2D": [lambda: ZeroPadding2D(), lambda: ZeroPadding2D([[1, 2], [0, 3]], name="pad")],
    "UpSampling2D": [lambda: UpSampling2D(), lambda: UpSampling2D(3)],
}

# name -> (a layer, the per-example input shape) for the float32-by-default check
FLOAT32_CASES: dict[str, tuple] = {
    "Conv2D": (lambda: Conv2D(3, 2, activation="relu"), (4, 4, 2)),
    "Conv1D": (lambda: Conv1D(3, 2, padding="causal"), (5, 2)),
    "MaxPooling2D": (lambda: MaxPooling2D(padding="same"), (3, 4, 2)),
    "AveragePooling2D": (lambda: AveragePooling2D(padding="same"), (3, 4, 2)),
    "MaxPooling1D": (lambda: MaxPooling1D(), (5, 2)),
    "GlobalAveragePooling2D": (lambda: GlobalAveragePooling2D(), (3, 4, 2)),
    "GlobalMaxPooling2D": (lambda: GlobalMaxPooling2D(), (3, 4, 2)),
    "GlobalMaxPooling1D": (lambda: GlobalMaxPooling1D(), (5, 2)),
    "SpatialDropout1D": (lambda: SpatialDropout1D(0.5), (5, 2)),
    "SpatialDropout2D": (lambda: SpatialDropout2D(0.5), (3, 4, 2)),
    "LayerNormalization": (lambda: LayerNormalization(), (6,)),
    "ZeroPadding2D": (lambda: ZeroPadding2D(), (3, 4, 2)),
    "UpSampling2D": (lambda: UpSampling2D(), (3, 4, 2)),
}
