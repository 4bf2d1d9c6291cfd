"""End to end through the real loop: small problems learned, exact epoch losses, weights and splits checked by hand,
determinism, and bit-exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nntrain.engine.layers import BatchNormalization, Concatenate, Dense, Dropout, Input
from nntrain.engine.model import Model, Node, Sequential
from nntrain.training.loop import Trainer, evaluate, fit, predict

SGD0 = {"name": "sgd", "learning_rate": 0.0}  # no updates: the epoch loss must equal evaluate() on the same weights


def _moons(n: int, seed: int):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label == 0, np.cos(t), 1 - np.cos(t))
    y = np.where(label == 0, np.sin(t), 0.5 - np.sin(t))
    return (np.stack([x, y], axis=1) + 0.1 * rng.standard_normal((n, 2))).astype(np.float32), label


def _sparse_ce(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -np.log(p[np.arange(len(y)), y].astype(np.float64))


def _bce(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = np.clip(p.astype(np.float64).ravel(), 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


# --- problems a working engine learns ---------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer,epochs", [({"name": "adam", "learning_rate": 0.05}, 300),
                                              ({"name": "sgd", "learning_rate": 0.5, "momentum": 0.9}, 300)])
def test_xor(optimizer, epochs):
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0], np.float32)
    model = Sequential([Dense(4, activation="tanh"), Dense(1, activation="sigmoid")], input_shape=(2,), seed=1)
    model.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    history = fit(model, x, y, epochs=epochs, batch_size=4, seed=0)
    assert history.history["accuracy"][-1] == 1.0
    assert history.history["loss"][-1] < 0.05 < history.history["loss"][0]
    np.testing.assert_array_equal(predict(model, x).ravel() > 0.5, y == 1)
    assert evaluate(model, x, y)["accuracy"] == 1.0


def test_two_moons_to_95_percent_on_held_out_data():
    x, y = _moons(300, seed=0)
    x_test, y_test = _moons(300, seed=1)
    model = Sequential([Dense(16, activation="relu"), Dense(16, activation="relu"), Dense(1, activation="sigmoid")],
                       input_shape=(2,), seed=0)
    model.compile(loss="binary_crossentropy", optimizer={"name": "adam", "learning_rate": 0.02}, metrics=["accuracy"])
    fit(model, x, y, epochs=60, batch_size=32, seed=0)
    assert evaluate(model, x_test, y_test)["accuracy"] > 0.95
    assert ((predict(model, x_test).ravel() > 0.5) == y_test).mean() > 0.95


def test_linear_regression_recovers_the_weights():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 3)).astype(np.float32)
    w, b = np.array([1.5, -2.0, 0.5]), 0.7
    model = Sequential([Dense(1, name="linear")], input_shape=(3,), seed=0)
    model.compile(loss="mse", optimizer={"name": "sgd", "learning_rate": 0.1}, metrics=["mae"])
    history = fit(model, x, x @ w + b, epochs=40, batch_size=32, seed=0)
    learned = model.get_weights()["linear"]
    np.testing.assert_allclose(learned["kernel"].ravel(), w, atol=1e-3)
    np.testing.assert_allclose(learned["bias"], [b], atol=1e-3)
    assert history.history["loss"][-1] < 1e-6 and history.history["mae"][-1] < 1e-3


# --- batch sizes, checked against gradient steps by hand --------------------------------------------------------------


def _linear_problem():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 2))
    return x, x @ np.array([1.0, -1.0]) + 0.5


def test_full_batch_is_one_gradient_step_per_epoch():
    x, y = _linear_problem()
    model = Sequential([Dense(1, name="lin")], input_shape=(2,), dtype="float64")
    model.compile(loss="mse", optimizer={"name": "sgd", "learning_rate": 0.1})
    w, b = model.get_weights()["lin"]["kernel"].ravel(), 0.0
    fit(model, x, y, epochs=2, batch_size="full", seed=0)
    for _ in range(2):  # MSE gradient: (2 / n) X^T (Xw + b - y)
        err = x @ w + b - y
        w, b = w - 0.1 * 2 / len(x) * x.T @ err, b - 0.1 * 2 * err.mean()
    np.testing.assert_allclose(model.get_weights()["lin"]["kernel"].ravel(), w, rtol=1e-12)
    np.testing.assert_allclose(model.get_weights()["lin"]["bias"], [b], rtol=1e-12)
    assert model.optimizer.iterations == 2


def test_batch_size_one_steps_per_sample_in_order():
    x, y = _linear_problem()
    model = Sequential([Dense(1, name="lin")], input_shape=(2,), dtype="float64")
    model.compile(loss="mse", optimizer={"name": "sgd", "learning_rate": 0.05})
    w, b = model.get_weights()["lin"]["kernel"].ravel(), 0.0
    losses = []
    for xi, yi in zip(x, y):
        err = xi @ w + b - yi
        losses.append(err**2)
        w, b = w - 0.05 * 2 * err * xi, b - 0.05 * 2 * err
    history = fit(model, x, y, epochs=1, batch_size=1, shuffle=False)
    np.testing.assert_allclose(model.get_weights()["lin"]["kernel"].ravel(), w, rtol=1e-12)
    assert history.history["loss"][0] == pytest.approx(np.mean(losses), rel=1e-12)  # each before its own step
    assert model.optimizer.iterations == 6


@pytest.mark.parametrize("shuffle", [False, True])
def test_epoch_loss_is_exact_with_a_short_last_batch(blobs, shuffle):
    x, y = blobs
    x, y = x[:10], y[:10]  # batches of 4, 4 and 2
    model = Sequential([Dense(5, activation="tanh", kernel_regularizer={"name": "l2", "l2": 0.1}, name="hidden"),
                        Dense(3, activation="softmax")], input_shape=(4,), seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=SGD0, metrics=["accuracy"])
    history = fit(model, x, y, epochs=2, batch_size=4, shuffle=shuffle, seed=0)
    p = predict(model, x)
    penalty = 0.1 * float((model.get_weights()["hidden"]["kernel"].astype(np.float64) ** 2).sum())
    by_hand = _sparse_ce(p, y).mean() + penalty
    accuracy = (p.argmax(axis=1) == y).mean()
    assert 0.1 <= accuracy <= 0.9  # not a degenerate all-or-nothing case
    for epoch in range(2):
        assert history.history["loss"][epoch] == pytest.approx(by_hand, rel=1e-6)
        assert history.history["accuracy"][epoch] == accuracy
    evaluated = evaluate(model, x, y, batch_size=3)
    assert evaluated["loss"] == pytest.approx(by_hand, rel=1e-6) and evaluated["accuracy"] == accuracy


# --- Dropout and BatchNormalization in the loop -----------------------------------------------------------------------


def test_dropout_changes_training_outputs_but_not_predictions(blobs):
    x, _y = blobs
    model = Sequential([Dense(32, activation="relu", name="hidden"), Dropout(0.5), Dense(3, name="out")],
                       input_shape=(4,), seed=0)
    model.compile(loss="mse", optimizer="adam")
    (train_a,), _ = model.forward([x], training=True)
    (train_b,), _ = model.forward([x], training=True)
    assert not np.allclose(train_a, train_b)
    pred = predict(model, x)
    np.testing.assert_array_equal(predict(model, x), pred)
    (eval_out,), _ = model.forward([x], training=False)
    np.testing.assert_array_equal(eval_out, pred)
    w = model.get_weights()
    by_hand = np.maximum(x @ w["hidden"]["kernel"] + w["hidden"]["bias"], 0) @ w["out"]["kernel"] + w["out"]["bias"]
    np.testing.assert_allclose(pred, by_hand, rtol=1e-5, atol=1e-6)  # inference: dropout is the identity


def test_batch_normalization_statistics_in_the_loop():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 3)) * [1, 5, 0.5] + [2, -3, 10]).astype(np.float32)
    model = Sequential([BatchNormalization(momentum=0.5, name="bn")], input_shape=(3,), seed=0)
    model.compile(loss="mse", optimizer=SGD0)
    (train_out,), _ = model.forward([x], training=True)  # batch statistics
    mean, var = x.astype(np.float64).mean(axis=0), x.astype(np.float64).var(axis=0)
    np.testing.assert_allclose(train_out, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    model.get_layer("bn").set_weights({"moving_mean": np.zeros(3), "moving_variance": np.ones(3)})
    fit(model, x, np.zeros_like(x), epochs=2, batch_size="full", shuffle=False)
    mm = 0.5 * (0.5 * 0 + 0.5 * mean) + 0.5 * mean  # two steps of moving = 0.5 * moving + 0.5 * batch
    mv = 0.5 * (0.5 * 1 + 0.5 * var) + 0.5 * var
    state = model.get_weights()["bn"]
    np.testing.assert_allclose(state["moving_mean"], mm, rtol=1e-5)
    np.testing.assert_allclose(state["moving_variance"], mv, rtol=1e-5)
    np.testing.assert_allclose(predict(model, x), (x - mm) / np.sqrt(mv + 1e-3), rtol=1e-4, atol=1e-5)


# --- validation, class weights, several inputs and outputs ------------------------------------------------------------


def test_validation_split_holds_out_the_last_rows(blobs):
    x, y = blobs
    model = Sequential([Dense(3, activation="softmax")], input_shape=(4,), seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=SGD0, metrics=["accuracy"])
    history = fit(model, x, y, epochs=2, batch_size=16, validation_split=0.2)
    assert sorted(history.history) == ["accuracy", "learning_rate", "loss", "seconds", "val_accuracy", "val_loss"]
    train, val = evaluate(model, x[:72], y[:72]), evaluate(model, x[72:], y[72:])
    assert train["loss"] != pytest.approx(val["loss"], rel=1e-3)
    assert history.history["loss"][-1] == pytest.approx(train["loss"], rel=1e-6)
    assert history.history["val_loss"][-1] == pytest.approx(val["loss"], rel=1e-6)
    assert history.history["val_accuracy"][-1] == val["accuracy"]


def test_validation_data_is_evaluated_every_epoch(blobs):
    x, y = blobs
    model = Sequential([Dense(8, activation="relu"), Dense(3, activation="softmax")], input_shape=(4,), seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer={"name": "adam", "learning_rate": 0.05},
                  metrics=["accuracy"])
    history = fit(model, x[:60], y[:60], epochs=5, batch_size=16, validation_data=(x[60:], y[60:]))
    assert len(history.history["val_loss"]) == 5 and len(history.epoch) == 5
    assert history.history["val_loss"][-1] == pytest.approx(evaluate(model, x[60:], y[60:])["loss"], rel=1e-6)
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]


def test_class_weight_scales_each_sample_loss():
    x, y = _moons(40, seed=2)
    model = Sequential([Dense(1, activation="sigmoid")], input_shape=(2,), seed=0)
    model.compile(loss="binary_crossentropy", optimizer=SGD0)
    plain = fit(model, x, y, epochs=1, batch_size=16).history["loss"][0]
    weighted = fit(model, x, y, epochs=1, batch_size=16, class_weight={0: 1.0, 1: 3.0}).history["loss"][0]
    per_sample = _bce(predict(model, x), y)
    assert plain == pytest.approx(per_sample.mean(), rel=1e-5)
    assert weighted == pytest.approx((np.where(y == 1, 3.0, 1.0) * per_sample).mean(), rel=1e-5)
    with_sw = fit(model, x, y, epochs=1, batch_size=16, sample_weight=np.where(y == 1, 3.0, 1.0)).history["loss"][0]
    assert with_sw == pytest.approx(weighted, rel=1e-6)


def _two_heads(seed=0) -> Model:
    a, b = Input(shape=[4], name="features"), Input(shape=[2], name="extra")
    nodes = [Node(Dense(8, activation="tanh", name="trunk"), ["features"]),
             Node(Concatenate(name="join"), ["trunk", "extra"]),
             Node(Dense(3, activation="softmax", name="cls"), ["join"]),
             Node(Dense(1, name="value"), ["trunk"])]
    return Model([a, b], nodes, ["cls", "value"], seed=seed)


def test_dict_inputs_and_outputs_with_weighted_losses(blobs):
    x, y = blobs
    rng = np.random.default_rng(0)
    inputs = {"features": x, "extra": rng.standard_normal((90, 2)).astype(np.float32)}
    targets = {"cls": y, "value": (x[:, :1] * 2 - 1).astype(np.float32)}
    model = _two_heads()
    model.compile(loss={"cls": "sparse_categorical_crossentropy", "value": "mse"}, optimizer=SGD0,
                  loss_weights={"cls": 0.5, "value": 2.0}, metrics={"cls": ["accuracy"]})
    logs = {k: v[0] for k, v in fit(model, inputs, targets, epochs=1, batch_size=32).history.items()}
    pred = predict(model, inputs)
    cls_loss = _sparse_ce(pred["cls"], y).mean()
    value_loss = ((pred["value"].astype(np.float64) - targets["value"]) ** 2).mean()
    assert logs["cls_loss"] == pytest.approx(cls_loss, rel=1e-5)
    assert logs["value_loss"] == pytest.approx(value_loss, rel=1e-5)
    assert logs["loss"] == pytest.approx(0.5 * cls_loss + 2.0 * value_loss, rel=1e-5)
    assert logs["cls_accuracy"] == (pred["cls"].argmax(axis=1) == y).mean()
    assert "value_accuracy" not in logs

    trained = _two_heads()
    trained.compile(loss={"cls": "sparse_categorical_crossentropy", "value": "mse"},
                    optimizer={"name": "adam", "learning_rate": 0.02}, loss_weights={"cls": 0.5, "value": 2.0},
                    metrics={"cls": ["accuracy"]})
    history = fit(trained, inputs, targets, epochs=30, batch_size=16, seed=0).history
    assert history["cls_loss"][-1] < 0.5 * history["cls_loss"][0]
    assert history["value_loss"][-1] < 0.5 * history["value_loss"][0]
    assert history["cls_accuracy"][-1] > 0.95


def test_frozen_layers_keep_their_weights(blobs):
    x, y = blobs
    model = Sequential([Dense(8, activation="relu", trainable=False, name="frozen"),
                        BatchNormalization(trainable=False, name="bn"), Dense(3, activation="softmax", name="head")],
                       input_shape=(4,), seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer={"name": "adam", "learning_rate": 0.05})
    before = model.get_weights()
    fit(model, x, y, epochs=3, batch_size=16)
    after = model.get_weights()
    for layer in ("frozen", "bn"):
        for key in before[layer]:
            np.testing.assert_array_equal(after[layer][key], before[layer][key])
    assert not np.allclose(after["head"]["kernel"], before["head"]["kernel"])
    assert sorted(model.trainable_params) == ["head/bias", "head/kernel"]


# --- determinism and exact resume -------------------------------------------------------------------------------------


def _noisy_model(seed=0, dropout_seed=None) -> Model:
    model = Sequential([Dense(16, activation="relu"), Dropout(0.3, seed=dropout_seed), BatchNormalization(),
                        Dense(3, activation="softmax")], input_shape=(4,), seed=seed)
    model.compile(loss="sparse_categorical_crossentropy", optimizer={"name": "adam", "learning_rate": 0.01},
                  metrics=["accuracy"])
    return model


def _without_seconds(history) -> dict:
    return {k: v for k, v in history.history.items() if k != "seconds"}


def _assert_same_weights(a: Model, b: Model) -> None:
    wa, wb = a.get_weights(), b.get_weights()
    assert wa.keys() == wb.keys()
    for layer in wa:
        for key in wa[layer]:
            assert np.array_equal(wa[layer][key], wb[layer][key]), f"{layer}/{key} differs"


def test_same_seed_is_bit_identical_and_other_seeds_differ(blobs):
    x, y = blobs
    runs = []
    for model_seed, fit_seed in ((0, 0), (0, 0), (0, 1), (1, 0)):
        model = _noisy_model(model_seed)
        history = fit(model, x, y, epochs=3, batch_size=16, seed=fit_seed)
        runs.append((model, _without_seconds(history)))
    (m0, h0), (m1, h1), (m2, h2), (m3, h3) = runs
    _assert_same_weights(m0, m1)
    assert h0 == h1
    for other, h in ((m2, h2), (m3, h3)):  # another shuffle, another initialization
        assert h != h0
        assert not np.array_equal(other.get_weights()["dense"]["kernel"], m0.get_weights()["dense"]["kernel"])


@pytest.mark.parametrize("dropout_seed", [None, 7])  # the model's generator, or the layer's own
def test_resume_is_bit_identical_to_an_uninterrupted_run(blobs, dropout_seed):
    x, y = blobs
    fit_args = {"batch_size": 16, "validation_data": (x[:20], y[:20]), "seed": 4}
    straight = _noisy_model(dropout_seed=dropout_seed)
    straight_history = Trainer(straight, x, y, epochs=10, **fit_args).run()

    first = _noisy_model(dropout_seed=dropout_seed)
    part = Trainer(first, x, y, epochs=4, **fit_args)
    part.run()
    state = json.loads(json.dumps(part.get_state()))  # what a checkpoint stores must be JSON-able
    weights, optimizer_state = first.get_weights(), first.optimizer.get_state()

    # other initial weights: everything must come from the saved state
    resumed = _noisy_model(seed=99, dropout_seed=dropout_seed)
    resumed.set_weights(weights)
    resumed.optimizer.set_state(optimizer_state)
    rest = Trainer(resumed, x, y, epochs=10, **fit_args)
    rest.set_state(state)
    resumed_history = rest.run()

    _assert_same_weights(resumed, straight)
    assert resumed_history.epoch == list(range(10))
    assert _without_seconds(resumed_history) == _without_seconds(straight_history)
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 10 * 6
