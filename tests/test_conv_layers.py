"""The convolutional family against numbers computed independently: Keras's output shapes and parameter counts
(from Keras's formulas), forward values against naive loops written here, the first-maximum rule of max pooling,
penalties, and the errors a config can cause. Finite-difference gradients of every layer and variant are in
test_gradients.py (rows from tests/conv_cases.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nntrain.engine.layers import (
    AveragePooling2D,
    Conv1D,
    Conv2D,
    Dense,
    Flatten,
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
from nntrain.engine.model import Sequential
from nntrain.engine.summary import rows as summary_rows
from nntrain.errors import ConfigError, ShapeError


def _built(layer, shape, dtype=np.float64, seed=0):
    layer.build(shape, np.random.default_rng(seed), dtype)
    return layer


# --- Keras's shapes and parameter counts ------------------------------------------------------------------------------

# (layer, input shape, Keras's output shape, Keras's parameter count); counts by Keras's formulas:
# conv = kh * kw * in_channels * filters + filters; LayerNormalization = 2 * normalized size
KERAS_SHAPES = [
    (lambda: Conv2D(32, 3), (28, 28, 1), (26, 26, 32), 3 * 3 * 1 * 32 + 32),
    (lambda: Conv2D(64, (3, 3)), (13, 13, 32), (11, 11, 64), 3 * 3 * 32 * 64 + 64),
    (lambda: Conv2D(16, (3, 5), strides=2, padding="same"), (15, 20, 3), (8, 10, 16), 3 * 5 * 3 * 16 + 16),
    (lambda: Conv2D(4, 3, dilation_rate=2, use_bias=False), (10, 9, 2), (6, 5, 4), 3 * 3 * 2 * 4),
    (lambda: Conv2D(8, 4, strides=3), (11, 11, 2), (3, 3, 8), 4 * 4 * 2 * 8 + 8),
    (lambda: Conv1D(128, 5), (200, 32), (196, 128), 5 * 32 * 128 + 128),
    (lambda: Conv1D(8, 3, padding="causal", dilation_rate=4), (50, 6), (50, 8), 3 * 6 * 8 + 8),
    (lambda: Conv1D(8, 3, strides=2, padding="same"), (7, 6), (4, 8), 3 * 6 * 8 + 8),
    (lambda: Conv1D(8, 3), (None, 6), (None, 8), 3 * 6 * 8 + 8),
    (lambda: MaxPooling2D(), (26, 26, 32), (13, 13, 32), 0),
    (lambda: MaxPooling2D(), (11, 11, 64), (5, 5, 64), 0),
    (lambda: MaxPooling2D(3, strides=2, padding="same"), (7, 7, 3), (4, 4, 3), 0),
    (lambda: AveragePooling2D((2, 3)), (6, 9, 2), (3, 3, 2), 0),
    (lambda: MaxPooling1D(), (9, 4), (4, 4), 0),
    (lambda: MaxPooling1D(3, strides=1, padding="same"), (9, 4), (9, 4), 0),
    (lambda: GlobalAveragePooling2D(), (5, 5, 7), (7,), 0),
    (lambda: GlobalMaxPooling2D(keepdims=True), (5, 5, 7), (1, 1, 7), 0),
    (lambda: GlobalMaxPooling1D(), (None, 7), (7,), 0),
    (lambda: LayerNormalization(), (10, 16), (10, 16), 2 * 16),
    (lambda: LayerNormalization(axis=[1, 2, 3]), (4, 4, 3), (4, 4, 3), 2 * 48),
    (lambda: ZeroPadding2D(), (28, 28, 1), (30, 30, 1), 0),
    (lambda: ZeroPadding2D(((1, 2), (3, 4))), (5, 5, 2), (8, 12, 2), 0),
    (lambda: UpSampling2D(), (7, 7, 8), (14, 14, 8), 0),
    (lambda: UpSampling2D((1, 3)), (2, 3, 1), (2, 9, 1), 0),
    (lambda: SpatialDropout2D(0.2), (4, 4, 3), (4, 4, 3), 0),
]


@pytest.mark.parametrize("make,shape,out,count", KERAS_SHAPES)
def test_output_shapes_and_parameter_counts_are_keras(make, shape, out, count):
    layer = _built(make(), shape)
    assert layer.output_shape == out
    assert layer.count_params() == count
    if None not in shape:
        y, _ = layer.forward(np.zeros((2, *shape)), False)
        assert y.shape == (2, *out)


def test_textbook_convnet_summary_counts():
    # Chollet's / Géron's Fashion-MNIST convnet: 320 + 18,496 + 16,010 = 34,826 parameters
    model = Sequential([Conv2D(32, 3, activation="relu", name="c1"), MaxPooling2D(name="p1"),
                        Conv2D(64, 3, activation="relu", name="c2"), MaxPooling2D(name="p2"), Flatten(name="f"),
                        Dense(10, activation="softmax", name="out")], input_shape=(28, 28, 1))
    rows = {r[0]: r[2] for r in summary_rows(model)}
    assert model.count_params() == (34826, 0)
    assert (rows["p1"], rows["p2"], rows["f"]) == ("(None, 13, 13, 32)", "(None, 5, 5, 64)", "(None, 1600)")


# --- forward values against naive loops -------------------------------------------------------------------------------


def _same_pads(n, k, s, d):
    # TensorFlow's 'same': out = ceil(n / s); the padding's smaller half goes first
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def _naive_conv2d(x, kernel, bias, strides, dilation, padding):
    kh, kw, _, f = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation
    if padding == "same":
        ph, pw = _same_pads(x.shape[1], kh, sh, dh), _same_pads(x.shape[2], kw, sw, dw)
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    oh = (x.shape[1] - (kh - 1) * dh - 1) // sh + 1
    ow = (x.shape[2] - (kw - 1) * dw - 1) // sw + 1
    y = np.zeros((len(x), oh, ow, f))
    for b in range(len(x)):
        for r in range(oh):
            for c in range(ow):
                for i in range(kh):
                    for j in range(kw):
                        y[b, r, c] += x[b, r * sh + i * dh, c * sw + j * dw] @ kernel[i, j]
    return y + bias


@pytest.mark.parametrize("args", [
    {"kernel_size": 3},
    {"kernel_size": (2, 3), "strides": (2, 1), "padding": "same"},
    {"kernel_size": 3, "strides": 2, "padding": "same"},
    {"kernel_size": 2, "dilation_rate": (2, 1), "padding": "same"},
    {"kernel_size": (3, 1), "dilation_rate": 2},
])
def test_conv2d_matches_naive_loops(args):
    x = np.random.default_rng(0).standard_normal((2, 7, 6, 3))
    layer = _built(Conv2D(4, bias_initializer="random_normal", **args), x.shape[1:])
    y, _ = layer.forward(x, False)
    expected = _naive_conv2d(x, layer.params["kernel"], layer.params["bias"], layer.strides, layer.dilation_rate,
                             layer.padding)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_conv1d_causal_sees_only_the_past():
    x = np.random.default_rng(1).standard_normal((2, 6, 2))
    layer = _built(Conv1D(3, 2, dilation_rate=2, padding="causal", bias_initializer="random_normal"), (6, 2))
    y, _ = layer.forward(x, False)
    k, bias = layer.params["kernel"], layer.params["bias"]
    for t in range(6):
        # taps at t - 2 and t (dilation 2), zeros before the sequence
        expected = bias + x[:, t] @ k[1] + (x[:, t - 2] @ k[0] if t >= 2 else 0)
        np.testing.assert_allclose(y[:, t], expected, rtol=1e-12, atol=1e-15)
    changed = x.copy()
    changed[:, 4:] += 1.0  # the future must not move earlier outputs
    np.testing.assert_array_equal(layer.forward(changed, False)[0][:, :4], y[:, :4])


def test_conv1d_strided_same_matches_naive():
    x = np.random.default_rng(2).standard_normal((2, 7, 3))
    layer = _built(Conv1D(2, 3, strides=2, padding="same"), (7, 3))
    y, _ = layer.forward(x, False)
    expected = _naive_conv2d(x[:, None], layer.params["kernel"][None], layer.params["bias"], (1, 2), (1, 1), "same")
    np.testing.assert_allclose(y, expected[:, 0], rtol=1e-12)


def _naive_pool(x, size, strides, padding, reduce):
    (ph, pw), (sh, sw) = size, strides
    h, w = x.shape[1:3]
    if padding == "same":
        (t, _), (l, _) = _same_pads(h, ph, sh, 1), _same_pads(w, pw, sw, 1)
        oh, ow = -(-h // sh), -(-w // sw)
    else:
        t = l = 0
        oh, ow = (h - ph) // sh + 1, (w - pw) // sw + 1
    y = np.zeros((len(x), oh, ow, x.shape[3]))
    for r in range(oh):
        for c in range(ow):
            r0, c0 = r * sh - t, c * sw - l
            window = x[:, max(r0, 0):min(r0 + ph, h), max(c0, 0):min(c0 + pw, w)]  # real pixels only
            y[:, r, c] = window.max(axis=(1, 2)) if reduce == "max" else window.mean(axis=(1, 2))
    return y


@pytest.mark.parametrize("cls,args", [
    (MaxPooling2D, {}), (MaxPooling2D, {"pool_size": 3, "strides": 2, "padding": "same"}),
    (MaxPooling2D, {"pool_size": (2, 3), "strides": 1}),
    (AveragePooling2D, {}), (AveragePooling2D, {"pool_size": 3, "strides": 2, "padding": "same"}),
    (AveragePooling2D, {"pool_size": (3, 2), "strides": (1, 2), "padding": "same"}),
])
def test_pooling_matches_naive_loops(cls, args):
    x = np.random.default_rng(3).standard_normal((2, 5, 7, 3))
    layer = _built(cls(**args), x.shape[1:])
    y, _ = layer.forward(x, False)
    reduce = "max" if cls is MaxPooling2D else "average"
    # Keras averages a 'same' window over its real pixels only: the padding is not counted
    np.testing.assert_allclose(y, _naive_pool(x, layer.pool_size, layer.strides, layer.padding, reduce), rtol=1e-12)


def test_max_pooling_1d_and_global_pooling_by_hand():
    x = np.array([[[1.0, -1], [3, -5], [2, -2], [0, 4], [7, 1]]])  # (1, 5 steps, 2 channels)
    y, _ = _built(MaxPooling1D(), (5, 2)).forward(x, False)
    np.testing.assert_array_equal(y, [[[3, -1], [2, 4]]])  # the fifth step is left over, as in Keras
    y, _ = _built(MaxPooling1D(2, strides=1, padding="same"), (5, 2)).forward(x, False)
    np.testing.assert_array_equal(y, [[[3, -1], [3, -2], [2, 4], [7, 4], [7, 1]]])
    np.testing.assert_array_equal(_built(GlobalMaxPooling1D(), (5, 2)).forward(x, False)[0], [[7, 4]])
    img = np.arange(24.0).reshape(1, 3, 4, 2)
    np.testing.assert_array_equal(_built(GlobalAveragePooling2D(), (3, 4, 2)).forward(img, False)[0], [[11, 12]])
    np.testing.assert_array_equal(_built(GlobalMaxPooling2D(keepdims=True), (3, 4, 2)).forward(img, False)[0],
                                  [[[[22, 23]]]])


def test_max_pooling_gives_a_tied_window_gradient_to_its_first_maximum_only():
    # Whole windows of zeros (a relu's output) must not multiply the gradient: TensorFlow and PyTorch give it to
    # the first maximum in row-major order.
    x = np.zeros((1, 2, 4, 1))
    x[0, 1, 3, 0] = 0.5  # the second window has one clear maximum
    for layer in (_built(MaxPooling2D(), (2, 4, 1)), _built(MaxPooling2D(2, strides=1), (2, 4, 1))):
        y, backward = layer.forward(x, True)
        dx = backward(np.ones_like(y))
        assert dx.sum() == y.size  # each output's gradient arrives exactly once
    _, backward = _built(MaxPooling2D(), (2, 4, 1)).forward(x, True)
    np.testing.assert_array_equal(backward(np.array([[[[2.0], [3.0]]]]))[0, :, :, 0], [[2, 0, 0, 0], [0, 0, 0, 3]])
    flat = np.zeros((1, 3, 1))
    _, backward = _built(GlobalMaxPooling1D(), (3, 1)).forward(flat, True)
    np.testing.assert_array_equal(backward(np.array([[5.0]]))[0, :, 0], [5, 0, 0])


def test_layer_normalization_by_hand():
    x = np.array([[1.0, 2, 3, 6], [0, 0, 0, 4]])
    layer = _built(LayerNormalization(epsilon=1e-3, gamma_initializer={"name": "constant", "value": 2.0},
                                      beta_initializer={"name": "constant", "value": 0.5}), (4,))
    y, _ = layer.forward(x, True)
    for row, out in zip(x, y):
        mean, var = row.mean(), ((row - row.mean()) ** 2).mean()
        np.testing.assert_allclose(out, 2 * (row - mean) / math.sqrt(var + 1e-3) + 0.5, rtol=1e-12)
    np.testing.assert_array_equal(layer.forward(x, False)[0], y)  # no batch statistics: the same in inference
    img = np.random.default_rng(4).standard_normal((2, 3, 2, 4))
    y, _ = _built(LayerNormalization(axis=[1, 2, 3]), (3, 2, 4)).forward(img, True)
    for b in range(2):
        np.testing.assert_allclose(y[b], (img[b] - img[b].mean()) / np.sqrt(img[b].var() + 1e-3), rtol=1e-12)


def test_zero_padding_and_up_sampling_by_hand():
    x = np.arange(4.0).reshape(1, 2, 2, 1)
    y, _ = _built(ZeroPadding2D(((1, 0), (0, 2))), (2, 2, 1)).forward(x, False)
    np.testing.assert_array_equal(y[0, :, :, 0], [[0, 0, 0, 0], [0, 1, 0, 0], [2, 3, 0, 0]])
    y, backward = _built(UpSampling2D((2, 3)), (2, 2, 1)).forward(x, False)
    np.testing.assert_array_equal(y[0, :, :, 0], [[0, 0, 0, 1, 1, 1]] * 2 + [[2, 2, 2, 3, 3, 3]] * 2)
    np.testing.assert_array_equal(backward(np.ones_like(y))[0, :, :, 0], [[6, 6], [6, 6]])


@pytest.mark.parametrize("layer,shape", [(SpatialDropout1D(0.5, seed=1), (20, 16)),
                                         (SpatialDropout2D(0.5, seed=1), (5, 6, 16))])
def test_spatial_dropout_drops_whole_channels(layer, shape):
    x = np.ones((8, *shape), np.float32)
    _built(layer, shape, np.float32)
    y, _ = layer.forward(x, True)
    per_channel = y.reshape(8, -1, shape[-1])
    # every channel of an example is all zeros or all 2.0 (scaled by 1 / (1 - rate)), and both occur
    assert np.all(per_channel.min(axis=1) == per_channel.max(axis=1))
    assert set(np.unique(per_channel)) == {0.0, 2.0}
    np.testing.assert_array_equal(layer.forward(x, False)[0], x)


def test_conv_regularizers_add_penalties_and_their_gradients(assert_grad):
    x = np.random.default_rng(5).standard_normal((2, 5, 5, 2))
    layer = _built(Conv2D(2, 3, activation="tanh", kernel_regularizer={"name": "l2", "l2": 0.3},
                          bias_regularizer={"name": "l1", "l1": 0.2}, activity_regularizer={"name": "l2", "l2": 0.1},
                          bias_initializer="random_normal"), (5, 5, 2))
    y, backward = layer.forward(x, True)
    r = np.random.default_rng(6).standard_normal(y.shape)
    dx = backward(r)
    layer.add_penalty_grads()
    kernel, bias = layer.params["kernel"], layer.params["bias"]
    by_hand = 0.3 * (kernel ** 2).sum() + 0.2 * np.abs(bias).sum() + 0.1 * (y ** 2).sum() / len(x)
    assert layer.penalty() == pytest.approx(by_hand, rel=1e-12)

    def loss():
        out, _ = layer.forward(x, True)
        return float((r * out).sum()) + layer.penalty()

    assert_grad(loss, kernel, layer.grads["kernel"], "kernel")
    assert_grad(loss, bias, layer.grads["bias"], "bias")
    assert_grad(loss, x, dx, "input")


# --- errors a config can cause ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("make,words", [
    (lambda: Conv2D(8, 3, data_format="channels_first"), ["Conv2D(data_format=...)", "channels_last", "moveaxis"]),
    (lambda: MaxPooling2D(data_format="channels_first"), ["MaxPooling2D(data_format=...)", "channels_last"]),
    (lambda: SpatialDropout2D(0.1, data_format="channels_first"), ["SpatialDropout2D(data_format=...)"]),
    (lambda: Conv2D(0, 3), ["Conv2D(filters=...)", "filters=0"]),
    (lambda: Conv2D(8, (3, 3, 3)), ["Conv2D(kernel_size=...)", "list of 2 positive integers"]),
    (lambda: Conv1D(8, [3, 3]), ["Conv1D(kernel_size=...)", "a positive integer"]),
    (lambda: Conv2D(8, 3, padding="causal"), ["Conv2D(padding=...)", "'valid', 'same'", "'causal'"]),
    (lambda: Conv2D(8, 3, strides=2, dilation_rate=2), ["strides > 1 cannot be combined with dilation_rate > 1"]),
    (lambda: MaxPooling1D(0), ["MaxPooling1D(pool_size=...)", "pool_size=0"]),
    (lambda: LayerNormalization(axis=0), ["LayerNormalization(axis=...)", "axis 0 is the batch"]),
    (lambda: ZeroPadding2D([1, 2, 3]), ["ZeroPadding2D(padding=...)", "[[top, bottom], [left, right]]"]),
    (lambda: UpSampling2D(interpolation="bilinear"), ["'nearest' only", "bilinear"]),
])
def test_bad_arguments_name_the_layer_and_argument(make, words):
    with pytest.raises(ConfigError) as exc:
        make()
    for w in words:
        assert w in str(exc.value)


@pytest.mark.parametrize("make,shape,words", [
    (lambda: Conv2D(4, 3, name="c"), (28, 28), ["`c` (Conv2D)", "(None, 28, 28)", "(None, height, width, channels)"]),
    (lambda: Conv2D(4, 5, name="c"), (4, 8, 1), ["`c` (Conv2D)", "(None, 4, 8, 1)", "padding='same'"]),
    (lambda: Conv1D(4, 3, name="c"), (5, 2, 1), ["(None, steps, channels)"]),
    (lambda: MaxPooling2D(name="p"), (1, 5, 2), ["`p` (MaxPooling2D)", "at least as large as the window"]),
    (lambda: LayerNormalization(axis=3, name="ln"), (4, 5), ["`ln`", "axis 3"]),
    (lambda: GlobalMaxPooling1D(name="g"), (3, 4, 5), ["`g`", "(None, steps, channels)"]),
])
def test_shapes_that_do_not_fit_name_layer_and_shape(make, shape, words):
    with pytest.raises(ShapeError) as exc:
        _built(make(), shape)
    for w in words:
        assert w in str(exc.value)


def test_a_convolution_stops_a_sequence_mask():
    # Keras: Conv1D does not carry Embedding(mask_zero=True)'s mask on (it mixes steps and changes their number), so
    # the pooling after it averages every output step instead of failing on a mask of the input's length
    import inspect

    from nntrain.engine.layers import Embedding, GlobalAveragePooling1D, Input

    if "mask_zero" not in inspect.signature(Embedding).parameters:
        pytest.skip("this engine has no sequence masks")
    model = Sequential([Input([6], dtype="int64"), Embedding(20, 3, mask_zero=True, name="emb"), Conv1D(4, 3),
                        GlobalAveragePooling1D(), Dense(1)], dtype="float64")
    x = np.array([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]])
    (y,), _ = model.forward([x], False)
    emb, conv = model.get_layer("emb"), model.layers[2]
    steps, _ = conv.forward(emb.forward(x, False)[0], False)  # (2, 4, 4): four output steps, all averaged
    dense = model.layers[-1]
    np.testing.assert_allclose(y, steps.mean(axis=1) @ dense.params["kernel"] + dense.params["bias"], rtol=1e-12)
