"""Layers, activations and initializers: values computed by hand, config round-trips for every registered layer,
float32 by default, and constructor errors that name the argument."""

from __future__ import annotations

import inspect
import json
import math
import warnings

import numpy as np
import pytest

from nntrain.engine.activations import ACTIVATIONS
from nntrain.engine.initializers import INITIALIZERS
from nntrain.engine.layers import (
    LAYERS,
    Activation,
    Add,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    Input,
    Reshape,
)
from nntrain.engine.model import Model, Node, Sequential
from nntrain.errors import ConfigError, ShapeError
from nntrain.training.loop import predict
from tests.test_recurrent_layers import RECURRENT_CONFIG_CASES
from tests import conv_cases


def _built(layer, input_shape, dtype=np.float32, seed=0):
    layer.build(input_shape, np.random.default_rng(seed), dtype)
    return layer


# --- get_config round-trip for every registered layer ----------------------------------------------------------------

CONFIG_CASES: dict[str, list] = {
    "Input": [lambda: Input(shape=[28, 28], name="pixels"), lambda: Input(shape=[None], sparse=True, dtype="int32")],
    "Dense": [
        lambda: Dense(7),
        lambda: Dense(3, activation={"name": "leaky_relu", "alpha": 0.1}, use_bias=False,
                      kernel_initializer={"name": "random_normal", "stddev": 0.2, "seed": 4},
                      bias_initializer={"name": "constant", "value": 0.5},
                      kernel_regularizer={"name": "l1_l2", "l1": 0.01, "l2": 0.02}, bias_regularizer="l2",
                      activity_regularizer={"name": "l1", "l1": 0.003}, name="head", trainable=False),
    ],
    "Activation": [lambda: Activation("gelu"), lambda: Activation({"name": "softmax", "axis": 1}, name="probs")],
    "Dropout": [lambda: Dropout(0.3), lambda: Dropout(0.5, seed=11, name="drop", trainable=False)],
    "Flatten": [lambda: Flatten(name="flat")],
    "Reshape": [lambda: Reshape([2, -1]), lambda: Reshape((4, 3), name="grid")],
    "Concatenate": [lambda: Concatenate(), lambda: Concatenate(axis=1, name="join")],
    "Add": [lambda: Add(name="plus", trainable=False)],
    "BatchNormalization": [
        lambda: BatchNormalization(),
        lambda: BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, scale=True,
                                   gamma_initializer={"name": "random_uniform", "minval": 0.9, "maxval": 1.1},
                                   moving_variance_initializer="ones", name="bn"),
    ],
    "Embedding": [lambda: Embedding(1000, 16),
                  lambda: Embedding(50, 4, embeddings_initializer="glorot_uniform", embeddings_regularizer="l2")],
    "GlobalAveragePooling1D": [lambda: GlobalAveragePooling1D(name="pool")],
    **RECURRENT_CONFIG_CASES,
}
CONFIG_CASES.update(conv_cases.CONFIG_CASES)


@pytest.mark.parametrize("name,i", [(n, i) for n in LAYERS.names() for i in range(len(CONFIG_CASES.get(n, [None])))])
def test_get_config_round_trip(name, i):
    assert name in CONFIG_CASES, f"registered layer {name} has no get_config round-trip case"
    layer = CONFIG_CASES[name][i]()
    cls = LAYERS.get(name)
    assert type(layer) is cls
    cfg = layer.get_config()
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert sorted(cfg) == sorted(params), "get_config must return exactly the constructor's arguments"
    rebuilt = cls(**json.loads(json.dumps(cfg)))  # configs travel through YAML and HDF5 attributes
    assert rebuilt.get_config() == cfg
    assert rebuilt.name == layer.name and rebuilt.trainable == layer.trainable


def test_round_trip_keeps_nested_arguments():
    cfg = CONFIG_CASES["Dense"][1]().get_config()
    assert cfg["activation"] == {"name": "leaky_relu", "alpha": 0.1}
    assert cfg["kernel_initializer"] == {"name": "random_normal", "mean": 0.0, "stddev": 0.2, "seed": 4}
    assert cfg["kernel_regularizer"] == {"name": "l1_l2", "l1": 0.01, "l2": 0.02}
    assert cfg["bias_regularizer"] == {"name": "l2", "l2": 0.01}
    assert cfg["use_bias"] is False and cfg["trainable"] is False


# --- float32 by default ----------------------------------------------------------------------------------------------


def _float32_model(name: str) -> tuple[Model, object]:
    """A default-dtype model around one layer of each registered kind, and a float32 batch for it."""
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    if name == "Input":
        return Sequential([Input(shape=[6]), Dense(2)]), x
    if name in ("Concatenate", "Add"):
        a, b = Input(shape=[6], name="a"), Input(shape=[6], name="b")
        return Model([a, b], [Node(LAYERS.get(name)(name="m"), ["a", "b"])], ["m"]), {"a": x, "b": 2 * x}
    if name == "Embedding":
        return Sequential([Embedding(10, 3)], input_shape=(6,)), np.arange(30).reshape(5, 6) % 10
    if name == "GlobalAveragePooling1D":
        return Sequential([GlobalAveragePooling1D()], input_shape=(3, 2)), x.reshape(5, 3, 2)
    if name in RECURRENT_CONFIG_CASES:
        return Sequential([RECURRENT_CONFIG_CASES[name][0]()], input_shape=(3, 2)), x.reshape(5, 3, 2)
    if name in conv_cases.FLOAT32_CASES:
        make, shape = conv_cases.FLOAT32_CASES[name]
        return Sequential([make()], input_shape=shape), np.random.default_rng(0).random((5, *shape), np.float32)
    layer = {"Dense": lambda: Dense(4, activation="relu"), "Activation": lambda: Activation("tanh"),
             "Dropout": lambda: Dropout(0.5), "Flatten": lambda: Flatten(), "Reshape": lambda: Reshape([3, 2]),
             "BatchNormalization": lambda: BatchNormalization()}[name]()
    return Sequential([layer], input_shape=(6,)), x


@pytest.mark.parametrize("name", LAYERS.names())
def test_float32_by_default(name):
    model, x = _float32_model(name)
    weights = [w for lw in model.get_weights().values() for w in lw.values()]
    assert all(w.dtype == np.float32 for w in weights)
    assert all(p.dtype == np.float32 for p in model.trainable_params.values())
    xs = model.as_input_list(x)
    for training in (False, True):
        (out,), _ = model.forward(xs, training)
        assert out.dtype == np.float32, f"{name} (training={training}) gives {out.dtype}"
    assert predict(model, x).dtype == np.float32


# --- forward values by hand -------------------------------------------------------------------------------------------


def test_dense_forward_by_hand():
    layer = _built(Dense(2, activation="relu"), (3,))
    layer.set_weights({"kernel": [[1, -1], [2, 0], [0, 3]], "bias": [0.5, -10]})
    y, _ = layer.forward(np.array([[1, 1, 1], [0, 2, -1]], np.float32), False)
    # [1+2+0+0.5, -1+0+3-10] = [3.5, -8] -> relu; [0+4+0+0.5, 0+0-3-10] = [4.5, -13] -> relu
    np.testing.assert_array_equal(y, [[3.5, 0], [4.5, 0]])
    assert y.dtype == np.float32


def test_dense_reads_the_last_axis_of_3d_input():
    layer = _built(Dense(3), (4, 2))
    x = np.random.default_rng(0).standard_normal((5, 4, 2)).astype(np.float32)
    y, _ = layer.forward(x, False)
    assert y.shape == (5, 4, 3) and layer.output_shape == (4, 3)
    np.testing.assert_allclose(y, x @ layer.params["kernel"] + layer.params["bias"], rtol=1e-6)


def test_flatten_reshape_pooling_by_hand():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    flat = _built(Flatten(), (3, 4))
    y, back = flat.forward(x, True)
    assert flat.output_shape == (12,) and y.shape == (2, 12)
    np.testing.assert_array_equal(y[1], np.arange(12, 24))
    assert back(y).shape == (2, 3, 4)
    reshape = _built(Reshape([-1, 2]), (3, 4))
    assert reshape.output_shape == (6, 2)
    y, back = reshape.forward(x, True)
    np.testing.assert_array_equal(y[0, 5], [10, 11])
    pool = _built(GlobalAveragePooling1D(), (3, 4))
    y, back = pool.forward(x, True)
    np.testing.assert_array_equal(y[0], [4, 5, 6, 7])  # mean of rows [0..3], [4..7], [8..11]
    np.testing.assert_array_equal(back(np.ones((2, 4), np.float32)), np.full((2, 3, 4), 1 / 3, np.float32))


def test_concatenate_and_add_by_hand():
    a = np.array([[1, 2]], np.float32)
    b = np.array([[3, 4, 5]], np.float32)
    cat = _built(Concatenate(), [(2,), (3,)])
    assert cat.output_shape == (5,)
    y, back = cat.forward([a, b], True)
    np.testing.assert_array_equal(y, [[1, 2, 3, 4, 5]])
    da, db = back(np.array([[10, 20, 30, 40, 50]], np.float32))
    np.testing.assert_array_equal(da, [[10, 20]])
    np.testing.assert_array_equal(db, [[30, 40, 50]])
    add = _built(Add(), [(2,), (2,), (2,)])
    y, back = add.forward([a, 10 * a, 100 * a], True)
    np.testing.assert_array_equal(y, [[111, 222]])
    np.testing.assert_array_equal(a, [[1, 2]])  # the inputs are left alone
    assert len(back(y)) == 3


def test_embedding_lookup_and_out_of_range_ids():
    layer = _built(Embedding(4, 2), (3,))
    layer.set_weights({"embeddings": [[0, 0], [1, 1], [2, 4], [3, 9]]})
    y, _ = layer.forward(np.array([[3, 1, 1], [0, 2, 3]]), False)
    np.testing.assert_array_equal(y, [[[3, 9], [1, 1], [1, 1]], [[0, 0], [2, 4], [3, 9]]])
    assert layer.output_shape == (3, 2)
    with pytest.raises(ConfigError, match=r"token id 4, outside \[0, 4\)"):
        layer.forward(np.array([[0, 4, 1]]), False)


# --- Dropout ----------------------------------------------------------------------------------------------------------


def test_dropout_zeroes_and_rescales_in_training_only():
    layer = _built(Dropout(0.25), (400,))
    layer.rng = np.random.default_rng(0)
    x = np.ones((100, 400), np.float32)
    y, back = layer.forward(x, True)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.01  # 40,000 draws
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout keeps the expected value
    np.testing.assert_array_equal(back(np.full_like(x, 2.0)), 2.0 * y)  # the same mask on the way back
    y_eval, _ = layer.forward(x, False)
    np.testing.assert_array_equal(y_eval, x)


def test_dropout_seed_repeats_masks():
    x = np.ones((4, 50), np.float32)
    a, b = _built(Dropout(0.5, seed=3), (50,), seed=0), _built(Dropout(0.5, seed=3), (50,), seed=99)
    np.testing.assert_array_equal(a.forward(x, True)[0], b.forward(x, True)[0])


# --- BatchNormalization -----------------------------------------------------------------------------------------------


def test_batch_normalization_by_hand():
    layer = _built(BatchNormalization(momentum=0.9, epsilon=1e-3), (2,), dtype=np.float64)
    layer.set_weights({"gamma": [2.0, 0.5], "beta": [1.0, -1.0]})
    x = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0], [7.0, 30.0]])
    mean = np.array([4.0, 30.0])
    var = np.array([5.0, 350.0])  # biased: ((-3)^2 + (-1)^2 + 1^2 + 3^2) / 4 and (400 + 100 + 900 + 0) / 4
    y, _ = layer.forward(x, True)
    np.testing.assert_allclose(y, [2.0, 0.5] * (x - mean) / np.sqrt(var + 1e-3) + [1.0, -1.0], rtol=1e-12)
    np.testing.assert_allclose(layer.state["moving_mean"], 0.9 * 0 + 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(layer.state["moving_variance"], 0.9 * 1 + 0.1 * var, rtol=1e-12)
    # inference: the moving averages, and they stay put
    y, _ = layer.forward(x, False)
    mm, mv = 0.1 * mean, 0.9 + 0.1 * var
    np.testing.assert_allclose(y, [2.0, 0.5] * (x - mm) / np.sqrt(mv + 1e-3) + [1.0, -1.0], rtol=1e-12)
    np.testing.assert_allclose(layer.state["moving_mean"], mm, rtol=1e-12)
    # a second training step moves the averages again
    layer.forward(x, True)
    np.testing.assert_allclose(layer.state["moving_mean"], 0.9 * mm + 0.1 * mean, rtol=1e-12)


def test_frozen_batch_normalization_runs_in_inference_mode():
    layer = _built(BatchNormalization(trainable=False), (3,))
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32) * 5 + 2
    y, _ = layer.forward(x, True)
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-6)  # moving mean 0, variance 1
    np.testing.assert_array_equal(layer.state["moving_mean"], np.zeros(3))


# --- activations ------------------------------------------------------------------------------------------------------


def test_activation_values_by_hand():
    x = np.array([-2.0, -0.5, 0.0, 1.0, 4.0])
    act = lambda name, **kw: ACTIVATIONS.build(name, **kw)(x)[0]
    np.testing.assert_array_equal(act("relu"), [0, 0, 0, 1, 4])
    np.testing.assert_allclose(act("leaky_relu"), [-0.4, -0.1, 0, 1, 4])  # Keras 3 default alpha 0.2
    np.testing.assert_allclose(act("elu"), [math.expm1(-2), math.expm1(-0.5), 0, 1, 4])
    s, a = 1.0507009873554805, 1.6732632423543772
    np.testing.assert_allclose(act("selu"), [s * a * math.expm1(-2), s * a * math.expm1(-0.5), 0, s, 4 * s])
    np.testing.assert_allclose(act("gelu"), [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    approx = [0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))) for v in x]
    np.testing.assert_allclose(act("gelu", approximate=True), approx)
    np.testing.assert_allclose(act("hard_sigmoid"), [1 / 6, 5 / 12, 0.5, 2 / 3, 1])
    np.testing.assert_allclose(act("sigmoid"), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(act("softplus"), np.log1p(np.exp(x)))
    np.testing.assert_allclose(act("softsign"), x / (1 + np.abs(x)))
    np.testing.assert_allclose(act("swish"), x / (1 + np.exp(-x)))
    np.testing.assert_allclose(act("softmax"), np.exp(x) / np.exp(x).sum())


def test_activations_stay_finite_for_huge_inputs():
    x = np.array([[-1000.0, 0.0, 1000.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow in exp
        for name in ACTIVATIONS.names():
            y, backward = ACTIVATIONS.build(name)(x)
            assert np.isfinite(y).all() and np.isfinite(backward(np.ones_like(x))).all(), name
            assert y.dtype == np.float32, name
    np.testing.assert_allclose(ACTIVATIONS.build("softmax")(x)[0], [[0, 0, 1]])
    np.testing.assert_allclose(ACTIVATIONS.build("sigmoid")(x)[0], [[0, 0.5, 1]])
    np.testing.assert_allclose(ACTIVATIONS.build("softplus")(x)[0], [[0, math.log(2), 1000]])


# --- initializers -----------------------------------------------------------------------------------------------------


def test_initializer_distributions():
    rng = np.random.default_rng(0)
    fan_in, fan_out = 300, 200
    w = INITIALIZERS.build("glorot_uniform")((fan_in, fan_out), rng)
    limit = math.sqrt(6 / (fan_in + fan_out))
    assert w.dtype == np.float32 and np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)
    w = INITIALIZERS.build("he_normal")((fan_in, fan_out), rng)
    assert w.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.03)  # truncation corrected
    assert np.abs(w).max() <= 2 * math.sqrt(2 / fan_in) / 0.87962566103423978
    w = INITIALIZERS.build("lecun_uniform")((fan_in, fan_out), rng)
    assert np.abs(w).max() <= math.sqrt(3 / fan_in)
    w = INITIALIZERS.build({"name": "random_uniform", "minval": 2, "maxval": 3})((1000,), rng)
    assert 2 <= w.min() and w.max() <= 3
    np.testing.assert_array_equal(INITIALIZERS.build({"name": "constant", "value": 0.5})((2, 2), rng), 0.5)
    a = INITIALIZERS.build({"name": "he_uniform", "seed": 5})((4, 3), np.random.default_rng(1))
    b = INITIALIZERS.build({"name": "he_uniform", "seed": 5})((4, 3), np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)  # a seeded initializer ignores the model's generator


# --- constructor errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make,words", [
    (lambda: Dense(0), "units=0"),
    (lambda: Dense(2.5), "units=2.5"),
    (lambda: Dense(True), "units=True"),
    (lambda: Dropout(1.0), "rate=1.0"),
    (lambda: Dropout(-0.1), "rate=-0.1"),
    (lambda: Reshape([-1, -1]), "at most one -1"),
    (lambda: Reshape([0, 2]), "target_shape"),
    (lambda: Reshape([None, 2]), "[None, 2]"),
    (lambda: Concatenate(axis=0), "axis 0 is the batch"),
    (lambda: BatchNormalization(momentum=1.0), "momentum"),
    (lambda: BatchNormalization(axis=1), "axis=1"),
    (lambda: Embedding(0, 4), "input_dim=0"),
    (lambda: Input(shape=[3], dtype="float16"), "float16"),
    (lambda: ACTIVATIONS.build("leaky_relu", alpha=-1), "alpha=-1"),
    (lambda: Dense(3, kernel_regularizer={"name": "l2", "l2": -0.1}), "l2=-0.1"),
])
def test_bad_constructor_arguments(make, words):
    with pytest.raises(ConfigError) as exc:
        make()
    assert words in str(exc.value)


@pytest.mark.parametrize("make,words", [
    (lambda: Dense(3, activation="sigmod"), ["unknown activation 'sigmod'", "did you mean `sigmoid`",
                                             "valid activation names: linear, relu"]),
    (lambda: Dense(3, kernel_initializer="glorot_unifrom"), ["did you mean `glorot_uniform`", "he_normal"]),
    (lambda: Dense(3, kernel_regularizer="l3"), ["unknown regularizer 'l3'", "l1_l2, l1, l2"]),
    (lambda: LAYERS.get("Desne"), ["did you mean `Dense`", "BatchNormalization"]),
])
def test_unknown_names_list_choices_and_closest_match(make, words):
    with pytest.raises(ConfigError) as exc:
        make()
    for w in words:
        assert w in str(exc.value)


def test_shape_errors_name_layer_and_shapes():
    with pytest.raises(ShapeError, match=r"layer `emb` \(Embedding\) cannot take input of shape \(None, 3, 4\)"):
        _built(Embedding(5, 2, name="emb"), (3, 4))
    with pytest.raises(ShapeError, match=r"`pool`.*\(None, 6\).*\(None, steps, features\)"):
        _built(GlobalAveragePooling1D(name="pool"), (6,))
    with pytest.raises(ShapeError, match=r"`add`.*\[\(None, 2\), \(None, 3\)\].*identical shapes"):
        _built(Add(name="add"), [(2,), (3,)])
