"""Analytic gradients against central differences (float64): every layer, activation and regularizer, a
functional graph with fan-out and two weighted outputs, and fused against unfused output losses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from nntrain.engine.activations import ACTIVATIONS
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
from nntrain.engine.regularizers import REGULARIZERS
from nntrain.training.loop import predict
from tests.test_recurrent_layers import RECURRENT_GRADIENT_CASES
from tests import conv_cases

SGD0 = {"name": "sgd", "learning_rate": 0.0}  # train_on_batch computes the gradients and leaves the weights alone


# --- every registered layer -------------------------------------------------------------------------------------------


@dataclass
class Case:
    make: Callable[[], object]
    inputs: Callable[[np.random.Generator], object]  # the batch: an array, or a list for merging layers
    training: bool = True
    input_grad: bool = True  # False where backward returns None (model inputs, integer ids)
    reseed: bool = False  # Dropout: the same mask on every forward pass
    tags: list = field(default_factory=list)


def _normal(*shape):
    return lambda rng: rng.standard_normal(shape)


LAYER_CASES: dict[str, list[Case]] = {
    "Input": [Case(lambda: Input(shape=[3]), _normal(4, 3), input_grad=False)],
    "Dense": [
        Case(lambda: Dense(3, activation="tanh", bias_initializer="random_normal"), _normal(5, 4)),
        Case(lambda: Dense(2, activation="swish", use_bias=False), _normal(3, 4, 5)),  # (batch, steps, features)
    ],
    "Activation": [Case(lambda: Activation({"name": "elu", "alpha": 0.7}), _normal(4, 5))],
    "Dropout": [
        Case(lambda: Dropout(0.4), _normal(6, 5), reseed=True),
        Case(lambda: Dropout(0.4), _normal(6, 5), training=False),
    ],
    "Flatten": [Case(lambda: Flatten(), _normal(3, 2, 4))],
    "Reshape": [Case(lambda: Reshape([2, -1]), _normal(3, 6))],
    "Concatenate": [
        Case(lambda: Concatenate(), lambda rng: [rng.standard_normal((4, 3)), rng.standard_normal((4, 2))]),
        Case(lambda: Concatenate(axis=1),
             lambda rng: [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 1, 4))]),
    ],
    "Add": [Case(lambda: Add(), lambda rng: [rng.standard_normal((4, 3)) for _ in range(3)])],
    "BatchNormalization": [
        Case(lambda: BatchNormalization(gamma_initializer="random_normal", beta_initializer="random_normal"),
             _normal(6, 3)),
        Case(lambda: BatchNormalization(gamma_initializer={"name": "random_uniform", "minval": 0.5, "maxval": 2}),
             _normal(3, 4, 2)),
        Case(lambda: BatchNormalization(center=False, scale=False), _normal(5, 3)),
        Case(lambda: BatchNormalization(gamma_initializer="random_normal",
                                        moving_mean_initializer="random_normal"), _normal(5, 3), training=False),
    ],
    "Embedding": [Case(lambda: Embedding(7, 3), lambda rng: np.array([[0, 3, 3, 6], [6, 1, 0, 3]]),
                       input_grad=False)],
    "GlobalAveragePooling1D": [Case(lambda: GlobalAveragePooling1D(), _normal(3, 5, 2))],
    **{name: [Case(make, _normal(3, 4, 2)) for make in makes] for name, makes in RECURRENT_GRADIENT_CASES.items()},
}

LAYER_CASES.update({n: [Case(**c) for c in cases] for n, cases in conv_cases.GRADIENT_CASES.items()})

_LAYER_PARAMS = [(name, i) for name in LAYERS.names() for i in range(len(LAYER_CASES.get(name, [None])))]


def _build(layer, xs, seed: int = 0):
    shape = [x.shape[1:] for x in xs] if isinstance(xs, list) else xs.shape[1:]
    layer.build(shape, np.random.default_rng(seed), np.float64)
    return layer


@pytest.mark.parametrize("name,i", _LAYER_PARAMS)
def test_layer_gradients(name, i, assert_grad):
    assert name in LAYER_CASES, f"registered layer {name} has no gradient-check case in LAYER_CASES"
    case = LAYER_CASES[name][i]
    rng = np.random.default_rng(100 + i)
    xs = case.inputs(rng)
    layer = _build(case.make(), xs)

    def forward():
        if case.reseed:
            layer.rng = np.random.default_rng(5)
        return layer.forward(xs, case.training)

    y, backward = forward()
    assert y.dtype == np.float64
    r = rng.standard_normal(y.shape)  # L = sum(r * y): its gradient wrt y is r
    dx = backward(r)

    def loss():
        return float((r * forward()[0]).sum())

    for key, p in layer.params.items():
        assert_grad(loss, p, layer.grads[key], f"{name} d/d{key}")
    if not case.input_grad:
        assert dx is None
        return
    if isinstance(xs, list):
        assert len(dx) == len(xs)
        for j, (x, d) in enumerate(zip(xs, dx)):
            assert_grad(loss, x, d, f"{name} d/dinput{j}")
    else:
        assert_grad(loss, xs, dx, f"{name} d/dinput")


def test_embedding_gradient_sums_repeated_ids():
    layer = _build(Embedding(5, 2), np.zeros((1, 3), np.int64))
    ids = np.array([[1, 1, 4]])
    _, backward = layer.forward(ids, True)
    backward(np.array([[[1.0, 2.0], [10.0, 20.0], [3.0, 4.0]]]))
    expected = np.zeros((5, 2))
    expected[1] = [11.0, 22.0]
    expected[4] = [3.0, 4.0]
    np.testing.assert_array_equal(layer.grads["embeddings"], expected)


def test_frozen_layer_collects_no_gradient_but_passes_one_back():
    x = np.random.default_rng(0).standard_normal((4, 3))
    layer = _build(Dense(2, trainable=False), x)
    _, backward = layer.forward(x, True)
    dx = backward(np.ones((4, 2)))
    assert not layer.grads["kernel"].any() and not layer.grads["bias"].any()
    np.testing.assert_allclose(dx, np.ones((4, 2)) @ layer.params["kernel"].T)


# --- every activation ------------------------------------------------------------------------------------------------

ACTIVATION_CASES: dict[str, list[dict]] = {
    "linear": [{}],
    "relu": [{}],
    "leaky_relu": [{}, {"alpha": 0.05}],
    "elu": [{}, {"alpha": 0.5}],
    "selu": [{}],
    "gelu": [{}, {"approximate": True}],
    "sigmoid": [{}],
    "hard_sigmoid": [{}],
    "tanh": [{}],
    "softmax": [{}, {"axis": 1}],
    "softplus": [{}],
    "softsign": [{}],
    "swish": [{}],
}


def _away_from_kinks(rng, shape):
    # relu-like kinks sit at 0 and hard_sigmoid's at +-3: draw |x| in [0.2, 2.8] with a random sign
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.2, 2.8, size=shape)


@pytest.mark.parametrize("name,i", [(n, i) for n in ACTIVATIONS.names()
                                    for i in range(len(ACTIVATION_CASES.get(n, [None])))])
def test_activation_gradients(name, i, assert_grad):
    assert name in ACTIVATION_CASES, f"registered activation {name} has no gradient-check case"
    act = ACTIVATIONS.build(name, **ACTIVATION_CASES[name][i])
    rng = np.random.default_rng(i)
    x = _away_from_kinks(rng, (4, 3, 5))
    y, backward = act(x)
    assert y.shape == x.shape and y.dtype == np.float64
    r = rng.standard_normal(y.shape)
    assert_grad(lambda: float((r * act(x)[0]).sum()), x, backward(r), f"{name}{ACTIVATION_CASES[name][i]}")


# --- every regularizer on kernel, bias and activity ------------------------------------------------------------------

REGULARIZER_ARGS = {"l1": {"l1": 0.3}, "l2": {"l2": 0.4}, "l1_l2": {"l1": 0.2, "l2": 0.3}}


def _penalty_by_hand(args: dict, w: np.ndarray) -> float:
    return args.get("l1", 0.0) * np.abs(w).sum() + args.get("l2", 0.0) * (w * w).sum()


@pytest.mark.parametrize("where", ["kernel", "bias", "activity"])
@pytest.mark.parametrize("reg", REGULARIZERS.names())
def test_regularizer_gradients(reg, where, assert_grad):
    assert reg in REGULARIZER_ARGS, f"registered regularizer {reg} has no gradient-check case"
    args = REGULARIZER_ARGS[reg]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4))
    layer = _build(Dense(3, activation="tanh", bias_initializer={"name": "random_normal", "stddev": 0.5},
                         **{f"{where}_regularizer": {"name": reg, **args}}), x)
    y, backward = layer.forward(x, True)
    r = rng.standard_normal(y.shape)
    dx = backward(r)
    layer.add_penalty_grads()

    watched = y if where == "activity" else layer.params[where]
    scale = 1 / len(x) if where == "activity" else 1.0  # Keras divides the activity penalty by the batch size
    assert layer.penalty() == pytest.approx(scale * _penalty_by_hand(args, watched), rel=1e-12)
    assert layer.penalty() > 0.01

    def loss():
        out, _ = layer.forward(x, True)
        return float((r * out).sum()) + layer.penalty()

    assert_grad(loss, layer.params["kernel"], layer.grads["kernel"], f"{reg} on {where}: d/dkernel")
    assert_grad(loss, layer.params["bias"], layer.grads["bias"], f"{reg} on {where}: d/dbias")
    assert_grad(loss, x, dx, f"{reg} on {where}: d/dx")


def test_embedding_regularizer_gradient(assert_grad):
    ids = np.array([[0, 2, 2], [4, 1, 0]])
    layer = _build(Embedding(5, 3, embeddings_regularizer={"name": "l1_l2", "l1": 0.1, "l2": 0.2}), ids)
    y, backward = layer.forward(ids, True)
    r = np.random.default_rng(0).standard_normal(y.shape)
    backward(r)
    layer.add_penalty_grads()

    def loss():
        return float((r * layer.forward(ids, True)[0]).sum()) + layer.penalty()

    assert_grad(loss, layer.params["embeddings"], layer.grads["embeddings"], "embeddings")


# --- a functional graph: fan-out, Add, Concatenate, BatchNormalization, two weighted outputs --------------------------


def _graph_model(dtype="float64") -> Model:
    a, b = Input(shape=[4], name="a"), Input(shape=[3], name="b")
    nodes = [
        Node(Dense(5, activation="tanh", kernel_regularizer={"name": "l2", "l2": 0.05}, name="trunk"), ["a"]),
        Node(Dense(4, activation="sigmoid", name="left"), ["trunk"]),  # trunk feeds three layers
        Node(Dense(4, activation="elu", bias_initializer="random_normal", name="right"), ["trunk"]),
        Node(Add(name="sum"), ["left", "right"]),
        Node(Concatenate(name="join"), ["sum", "b"]),
        Node(BatchNormalization(gamma_initializer="random_normal", name="bn"), ["join"]),
        Node(Dense(3, activation="softmax", name="cls"), ["bn"]),
        Node(Dense(2, activity_regularizer={"name": "l1", "l1": 0.02}, name="reg"), ["trunk"]),
    ]
    return Model([a, b], nodes, ["cls", "reg"], seed=3, dtype=dtype)


def _graph_data(n=6):
    rng = np.random.default_rng(11)
    xs = [rng.standard_normal((n, 4)), rng.standard_normal((n, 3))]
    ys = [np.eye(3)[rng.integers(0, 3, n)], rng.standard_normal((n, 2))]
    return xs, ys


@pytest.mark.parametrize("weighted", [False, True])
def test_whole_graph_gradient_of_weighted_total_loss(weighted, assert_grad):
    model = _graph_model()
    model.compile(loss={"cls": "categorical_crossentropy", "reg": "mse"}, optimizer=SGD0,
                  loss_weights={"cls": 0.7, "reg": 2.5})
    assert model.get_layer("cls").emit_logits  # the softmax output is fused with its cross-entropy
    xs, ys = _graph_data()
    n = len(ys[0])
    sw = np.linspace(0.5, 2.0, n) if weighted else np.ones(n)

    def total_loss() -> float:
        # By hand: 0.7 * CE(softmax) + 2.5 * MSE, each sum(sw * per_sample) / n, plus the two penalties.
        (logits, reg), _ = model.forward(xs, training=True)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        ce = -(ys[0] * np.log(p)).sum(axis=1)
        mse = ((reg - ys[1]) ** 2).mean(axis=1)
        penalty = 0.05 * (model.get_layer("trunk").params["kernel"] ** 2).sum() + 0.02 * np.abs(reg).sum() / n
        return float((0.7 * (sw * ce).sum() + 2.5 * (sw * mse).sum()) / n + penalty)

    expected = total_loss()
    before = {k: v.copy() for k, v in model.trainable_params.items()}
    tracker = model.new_tracker()
    model.train_on_batch(xs, ys, sw if weighted else None, tracker)
    for k, v in model.trainable_params.items():
        np.testing.assert_array_equal(v, before[k])  # learning rate 0
    assert tracker.loss / tracker.count == pytest.approx(expected, rel=1e-10)
    grads = {k: g.copy() for k, g in model.trainable_grads.items()}
    assert {k.split("/")[0] for k in grads} == {"trunk", "left", "right", "bn", "cls", "reg"}
    for key, p in model.trainable_params.items():
        assert_grad(total_loss, p, grads[key], key)


def test_model_backward_sums_fan_out(assert_grad):
    # One tensor read twice by the same Add: the gradient through both paths must add up.
    inp = Input(shape=[3], name="x")
    nodes = [Node(Dense(3, activation="tanh", name="d"), ["x"]), Node(Add(name="twice"), ["d", "d"]),
             Node(Dense(2, name="out"), ["twice"])]
    model = Model([inp], nodes, ["out"], dtype="float64")
    x = np.random.default_rng(0).standard_normal((4, 3))
    r = np.random.default_rng(1).standard_normal((4, 2))
    (_y,), backs = model.forward([x], training=True)
    model.backward(backs, [r])
    grads = {k: g.copy() for k, g in model.trainable_grads.items()}

    def loss():
        return float((r * model.forward([x], training=True)[0][0]).sum())

    for key, p in model.trainable_params.items():
        assert_grad(loss, p, grads[key], key)


# --- fused softmax / sigmoid cross-entropy against the unfused chain --------------------------------------------------


def _unfusable(name: str):
    """The same activation under another name, so the model cannot fuse it with the loss."""
    cls = ACTIVATIONS.get(name)
    return type(f"Unfused{cls.__name__}", (cls,), {"registered_name": f"{name}_unfused"})()


FUSED_CASES = [
    ("softmax", "categorical_crossentropy", lambda rng, n: np.eye(3)[rng.integers(0, 3, n)], {}),
    ("softmax", "sparse_categorical_crossentropy", lambda rng, n: rng.integers(0, 3, n), {}),
    ("sigmoid", "binary_crossentropy", lambda rng, n: rng.integers(0, 2, (n, 3)).astype(float), {}),
    ("softmax", "categorical_crossentropy", lambda rng, n: np.eye(3)[rng.integers(0, 3, n)],
     {"activity_regularizer": {"name": "l2", "l2": 0.1}}),
]


@pytest.mark.parametrize("act,loss,labels,extra", FUSED_CASES)
def test_fused_output_matches_unfused(act, loss, labels, extra):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 4))
    y = labels(rng, 8)
    results = []
    for activation in (act, _unfusable(act)):
        model = Sequential([Dense(6, activation="tanh"), Dense(3, activation=activation, name="out", **extra)],
                           input_shape=(4,), seed=9, dtype="float64")
        model.compile(loss=loss, optimizer=SGD0)
        tracker = model.new_tracker()
        model.train_on_batch([x], [y], None, tracker)
        results.append((model.get_layer("out").emit_logits, tracker.loss / tracker.count,
                        {k: g.copy() for k, g in model.trainable_grads.items()}, predict(model, x)))
    (fused, loss_f, grads_f, pred_f), (unfused, loss_u, grads_u, pred_u) = results
    assert fused == (not extra) and not unfused  # an activity penalty is on the activated output: no fusion
    assert loss_f == pytest.approx(loss_u, rel=1e-9)
    np.testing.assert_allclose(pred_f, pred_u, rtol=1e-12)
    for key in grads_u:
        assert np.abs(grads_u[key]).max() > 1e-6
        np.testing.assert_allclose(grads_f[key], grads_u[key], rtol=1e-7, atol=1e-12, err_msg=key)
