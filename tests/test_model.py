"""The graph model: summary parameter counts, graph and shape errors at build time, rejection of bad data,
config round-trips, and float32 throughout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nntrain.engine.layers import (
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
from nntrain.errors import ConfigError, DataError, ShapeError
from nntrain.training.loop import evaluate, fit, predict


def _rows(model: Model) -> dict[str, int]:
    return {name: params for name, _, _, params, _ in model.summary_rows()}


# --- summary ---------------------------------------------------------------------------------------------------------


def test_summary_small_mlp():
    model = Sequential([Dense(8, activation="relu"), Dense(8, activation="relu"), Dense(3, activation="softmax")],
                       input_shape=(4,))
    assert _rows(model) == {"input": 0, "dense": 40, "dense_1": 72, "dense_2": 27}
    assert model.count_params() == (139, 0)
    text = model.summary()
    assert "Total params: 139 (556.00 B)" in text
    assert "Trainable params: 139" in text and "Non-trainable params: 0 (0.00 B)" in text
    assert "dense_1 (Dense)" in text and "(None, 8)" in text and "input (Input)" not in text


def test_summary_mnist_mlp():
    model = Sequential([Flatten(), Dense(300, activation="relu"), Dense(100, activation="relu"),
                        Dense(10, activation="softmax")], input_shape=(28, 28))
    assert _rows(model) == {"input": 0, "flatten": 0, "dense": 235_500, "dense_1": 30_100, "dense_2": 1_010}
    assert model.count_params() == (266_610, 0)
    assert "Total params: 266,610" in model.summary()
    assert "(None, 784)" in model.summary()


def test_summary_batch_normalization_and_frozen_layers():
    model = Sequential([Dense(6, name="hidden"), BatchNormalization(name="bn"), Dense(2, trainable=False, name="out")],
                       input_shape=(3,))
    rows = _rows(model)
    assert rows["bn"] == 4 * 6 and rows["hidden"] == 24 and rows["out"] == 14
    assert model.count_params() == (24 + 12, 12 + 14)  # moving mean/variance and the frozen layer are non-trainable
    assert "Non-trainable params: 26" in model.summary()
    assert sorted(model.trainable_params) == ["bn/beta", "bn/gamma", "hidden/bias", "hidden/kernel"]
    frozen_bn = Sequential([BatchNormalization(trainable=False)], input_shape=(5,))
    assert frozen_bn.count_params() == (0, 20)


def test_functional_summary_shows_connections():
    a, b = Input(shape=[3], name="a"), Input(shape=[2], name="b")
    model = Model([a, b], [Node(Concatenate(name="cat"), ["a", "b"]), Node(Dense(1, name="out"), ["cat"])], ["out"])
    text = model.summary()
    assert "Connected to" in text and "a (Input)" in text
    assert [r[4] for r in model.summary_rows() if r[0] == "cat"] == ["a, b"]
    assert _rows(model)["out"] == 6


# --- graph errors at build time ---------------------------------------------------------------------------------------


def _inp(name="x", shape=(4,)):
    return Input(shape=list(shape), name=name)


def test_cycle_is_rejected():
    nodes = [Node(Dense(3, name="d1"), ["x"]), Node(Add(name="merge"), ["d1", "d2"]),
             Node(Dense(3, name="d2"), ["merge"])]
    with pytest.raises(ConfigError, match=r"cycle: d2 -> merge -> d2"):
        Model([_inp()], nodes, ["d2"])


def test_unknown_reference_suggests_the_closest_name():
    nodes = [Node(Dense(3, name="hidden"), ["x"]), Node(Dense(1, name="out"), ["hiden"])]
    with pytest.raises(ConfigError, match=r"`out` reads `hiden`.*did you mean `hidden`"):
        Model([_inp()], nodes, ["out"])
    with pytest.raises(ConfigError, match=r"output `outt` is not a layer.*did you mean `out`"):
        Model([_inp()], [Node(Dense(1, name="out"), ["x"])], ["outt"])


def test_unused_input_and_dead_layer_are_rejected():
    with pytest.raises(ConfigError, match=r"input `extra` is not used"):
        Model([_inp(), _inp("extra")], [Node(Dense(1, name="out"), ["x"])], ["out"])
    nodes = [Node(Dense(1, name="out"), ["x"]), Node(Dense(5, name="orphan"), ["x"])]
    with pytest.raises(ConfigError, match=r"layer `orphan` does not lead to any output"):
        Model([_inp()], nodes, ["out"])


def test_duplicate_names_and_wrong_arity_are_rejected():
    with pytest.raises(ConfigError, match=r"two layers are named `d`"):
        Model([_inp()], [Node(Dense(1, name="d"), ["x"]), Node(Dense(1, name="d"), ["x"])], ["d"])
    with pytest.raises(ConfigError, match=r"`d` \(Dense\) takes one input, got 2"):
        Model([_inp("a"), _inp("b")], [Node(Dense(1, name="d"), ["a", "b"])], ["d"])
    with pytest.raises(ConfigError, match=r"needs a functional model"):
        Sequential([Dense(2), Add()], input_shape=(2,))
    with pytest.raises(ConfigError, match=r"needs an input shape"):
        Sequential([Dense(2)])


@pytest.mark.parametrize("build,pattern", [
    (lambda: Model([_inp("a", (2, 3)), _inp("b", (4, 5))], [Node(Concatenate(name="cat"), ["a", "b"])], ["cat"]),
     r"`cat` \(Concatenate\) cannot take input of shape \[\(None, 2, 3\), \(None, 4, 5\)\]"),
    (lambda: Model([_inp("a", (3,)), _inp("b", (2, 3))], [Node(Concatenate(name="cat"), ["a", "b"])], ["cat"]),
     r"`cat`.*\[\(None, 3\), \(None, 2, 3\)\].*same rank"),
    (lambda: Sequential([Flatten(name="flat"), Dense(4, name="d")], input_shape=(None, 4)),
     r"`flat` \(Flatten\) cannot take input of shape \(None, None, 4\)"),
    (lambda: Sequential([Dense(2, name="d")], input_shape=(4, None)),
     r"`d` \(Dense\) cannot take input of shape \(None, 4, None\)"),
    (lambda: Sequential([Reshape([4, 2], name="grid")], input_shape=(6,)),
     r"`grid` \(Reshape\) cannot take input of shape \(None, 6\).*8 values per example.*\[4, 2\], got 6"),
    (lambda: Sequential([Reshape([4, -1], name="grid")], input_shape=(6,)),
     r"`grid`.*\(None, 6\).*divisible by 4"),
    (lambda: Sequential([Dense(3, name="d"), Embedding(10, 2, name="emb")], input_shape=(4, 5)),
     r"`emb` \(Embedding\) cannot take input of shape \(None, 4, 3\)"),
])
def test_shapes_that_cannot_fit_fail_at_build(build, pattern):
    with pytest.raises(ShapeError, match=pattern):
        build()


# --- bad data ---------------------------------------------------------------------------------------------------------


def _classifier(n_in=4, n_out=3, loss="sparse_categorical_crossentropy"):
    model = Sequential([Dense(5, activation="relu"), Dense(n_out, activation="softmax")], input_shape=(n_in,))
    model.compile(loss=loss, optimizer="adam", metrics=["accuracy"])
    return model


def test_wrong_input_width_names_expected_and_received(blobs):
    x, y = blobs
    model = _classifier()
    wide = np.zeros((6, 5), np.float32)
    with pytest.raises(ShapeError, match=r"expects examples of shape \(None, 4\), got \(None, 5\)"):
        fit(model, wide, y[:6], epochs=1)
    with pytest.raises(ShapeError, match=r"expects examples of shape \(None, 4\), got \(None, 5\)"):
        predict(model, wide)
    with pytest.raises(ShapeError, match=r"\(None, 4\), got \(None, 2, 2\)"):
        evaluate(model, x.reshape(-1, 2, 2), y)


def test_one_hot_labels_with_sparse_loss(blobs):
    x, y = blobs
    with pytest.raises(ShapeError, match=r"one-hot labels: use categorical_crossentropy"):
        fit(_classifier(), x, np.eye(3)[y], epochs=1)
    with pytest.raises(ShapeError, match=r"integer class labels: use sparse_categorical_crossentropy"):
        fit(_classifier(loss="categorical_crossentropy"), x, y, epochs=1)


def test_label_rows_must_match(blobs):
    x, y = blobs
    with pytest.raises(ShapeError, match=r"90 input rows but 89 label rows"):
        fit(_classifier(), x, y[:-1], epochs=1)


def test_nan_in_inputs_is_a_data_error(blobs):
    x, y = blobs
    x = x.copy()
    x[17, 2] = np.nan
    model = _classifier()
    with pytest.raises(DataError, match=r"NaN or infinite values \(first at row 17\)"):
        fit(model, x, y, epochs=1)
    with pytest.raises(DataError, match=r"row 17"):
        predict(model, x)
    with pytest.raises(DataError, match=r"labels .* NaN"):
        fit(_classifier(n_out=1, loss="mse"), blobs[0], np.full(90, np.nan), epochs=1)


@pytest.mark.parametrize("compile_kwargs,words", [
    ({"loss": "mse", "optimizer": "adamm"}, ["unknown optimizer 'adamm'", "did you mean `adam`", "sgd, adagrad"]),
    ({"loss": "msee", "optimizer": "sgd"}, ["unknown loss 'msee'", "did you mean `mse`", "binary_crossentropy"]),
    ({"loss": "mse", "optimizer": "sgd", "metrics": ["acuracy"]}, ["did you mean `accuracy`"]),
    ({"loss": {"ot": "mse"}, "optimizer": "sgd"}, ["unknown output(s) ['ot']", "did you mean `out`"]),
])
def test_compile_rejects_unknown_names(compile_kwargs, words):
    model = Sequential([Dense(1, name="out")], input_shape=(2,))
    with pytest.raises(ConfigError) as exc:
        model.compile(**compile_kwargs)
    for w in words:
        assert w in str(exc.value)


def test_fit_needs_compile_and_valid_arguments(blobs):
    x, y = blobs
    with pytest.raises(ConfigError, match="compile the model"):
        fit(Sequential([Dense(3)], input_shape=(4,)), x, y)
    model = _classifier()
    with pytest.raises(ConfigError, match="batch_size"):
        fit(model, x, y, batch_size=0)
    with pytest.raises(ConfigError, match="epochs"):
        fit(model, x, y, epochs=0)
    with pytest.raises(ConfigError, match="validation_split"):
        fit(model, x, y, validation_split=1.5)


def test_multi_input_data_must_be_a_dict():
    a, b = _inp("a", (2,)), _inp("b", (3,))
    model = Model([a, b], [Node(Concatenate(name="cat"), ["a", "b"]), Node(Dense(1, name="out"), ["cat"])], ["out"])
    with pytest.raises(ShapeError, match=r"inputs \['a', 'b'\]; give the data as a dict"):
        predict(model, np.zeros((2, 5)))
    with pytest.raises(ShapeError, match=r"no array for model input\(s\) \['b'\]"):
        predict(model, {"a": np.zeros((2, 2))})


# --- config round-trip ------------------------------------------------------------------------------------------------


def _functional() -> Model:
    a, b = Input(shape=[5], name="a"), Input(shape=[2], name="b")
    nodes = [
        Node(Dense(6, activation="relu", kernel_regularizer="l2", name="dense"), ["a"]),
        Node(Dropout(0.2, name="dropout"), ["dense"]),
        Node(Dense(6, activation="tanh", name="side"), ["a"]),
        Node(Add(name="sum"), ["dropout", "side"]),
        Node(BatchNormalization(name="bn"), ["sum"]),
        Node(Concatenate(name="cat"), ["bn", "b"]),
        Node(Dense(3, activation="softmax", name="cls"), ["cat"]),
        Node(Dense(1, name="value", trainable=False), ["side"]),
    ]
    return Model([a, b], nodes, ["cls", "value"], name="two_heads", seed=5)


def test_model_config_round_trip():
    model = _functional()
    cfg = model.get_config()
    rebuilt = Model.from_config(json.loads(json.dumps(cfg)), seed=123)
    assert rebuilt.get_config() == cfg
    assert rebuilt.summary() == model.summary()
    assert rebuilt.count_params() == model.count_params() == (36 + 36 + 12 + 27, 12 + 7)
    rng = np.random.default_rng(0)
    x = {"a": rng.standard_normal((7, 5)).astype(np.float32), "b": rng.standard_normal((7, 2)).astype(np.float32)}
    before = predict(rebuilt, x)
    assert not np.allclose(before["cls"], predict(model, x)["cls"])  # another seed, other weights
    rebuilt.set_weights(model.get_weights())
    after, expected = predict(rebuilt, x), predict(model, x)
    for name in ("cls", "value"):
        np.testing.assert_array_equal(after[name], expected[name])


def test_sequential_config_round_trip():
    model = Sequential([Embedding(20, 4), GlobalAveragePooling1D(), Dense(2, activation="sigmoid")],
                       input_shape=(6,), seed=1)
    rebuilt = Model.from_config(model.get_config())
    assert rebuilt.summary().replace("model", "sequential") == model.summary().replace("model", "sequential")
    rebuilt.set_weights(model.get_weights())
    ids = np.arange(18).reshape(3, 6)
    np.testing.assert_array_equal(predict(rebuilt, ids), predict(model, ids))


def test_set_weights_checks_names_and_shapes():
    model = Sequential([Dense(3, name="head")], input_shape=(2,))
    with pytest.raises(ShapeError, match=r"weight 'kernel' has shape \(2, 3\), got \(3, 2\)"):
        model.set_weights({"head": {"kernel": np.zeros((3, 2))}})
    with pytest.raises(ShapeError, match=r"no weight 'gamma'"):
        model.set_weights({"head": {"gamma": np.zeros(3)}})
    with pytest.raises(ConfigError, match=r"no layer named `haed`.*did you mean `head`"):
        model.set_weights({"haed": {}})


# --- dtype and prediction ---------------------------------------------------------------------------------------------


def test_float64_data_still_runs_in_float32(blobs):
    x, y = blobs
    model = _classifier()
    pred = predict(model, x.astype(np.float64))
    assert pred.dtype == np.float32
    np.testing.assert_array_equal(pred, predict(model, x))
    fit(model, x.astype(np.float64), y, epochs=1)
    assert all(w.dtype == np.float32 for lw in model.get_weights().values() for w in lw.values())
    assert predict(model, x.tolist()).dtype == np.float32  # nested lists work too


def test_float64_model():
    model = Sequential([Dense(3, activation="tanh"), BatchNormalization()], input_shape=(2,), dtype="float64")
    assert all(w.dtype == np.float64 for lw in model.get_weights().values() for w in lw.values())
    assert predict(model, np.ones((4, 2), np.float32)).dtype == np.float64


def test_predict_is_batched_and_deterministic(blobs):
    x, _ = blobs
    model = Sequential([Dense(8, activation="relu"), Dropout(0.5), Dense(3, activation="softmax")],
                       input_shape=(4,), seed=2)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    full = predict(model, x, batch_size=90)
    np.testing.assert_allclose(predict(model, x, batch_size=7), full, rtol=1e-6)
    np.testing.assert_array_equal(predict(model, x, batch_size=90), full)
    np.testing.assert_allclose(full.sum(axis=1), 1.0, rtol=1e-6)  # softmax applied although the loss is fused
    assert model.get_layer("dense_1").emit_logits
    assert predict(model, x[:0]).shape == (0, 3)


def test_multi_output_predict_returns_a_dict():
    model = _functional()
    out = predict(model, {"a": np.zeros((4, 5)), "b": np.zeros((4, 2))})
    assert sorted(out) == ["cls", "value"]
    assert out["cls"].shape == (4, 3) and out["value"].shape == (4, 1)
