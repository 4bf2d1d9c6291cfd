"""Plain SGD (w -= lr * g) on a large Dense kernel: the optimizer takes the step inside the kernel's gradient product
(engine/kernels.py). Whole training steps are checked against the SGD formula computed here and against the usual
gradient-then-optimizer path, with the bundled BLAS gemm and with its NumPy twin."""

from __future__ import annotations

import numpy as np
import pytest

from nntrain.engine import kernels
from nntrain.engine.layers import Dense, Input
from nntrain.engine.model import Model, Node, Sequential
from nntrain.engine.sparse import MultiHot
from nntrain.training.loop import fit

rng = np.random.default_rng(7)


@pytest.fixture
def fused_calls(monkeypatch):
    """The shapes of the kernels stepped through kernels.add_at_b, in call order."""
    calls, real = [], kernels.add_at_b

    def spy(c, a, b, alpha):
        calls.append(c.shape)
        real(c, a, b, alpha)

    monkeypatch.setattr(kernels, "add_at_b", spy)
    return calls


# --- whole training steps ----------------------------------------------------------------------------------------


def _mlp(hidden=300, width=256, seed=3):
    """8 -> hidden relu -> width relu -> 1: the middle kernel (hidden x width) is large enough to be stepped in its
    product; the first one is stepped by the optimizer from a gradient that flows back through the middle one."""
    model = Sequential([Input(shape=[8]), Dense(hidden, "relu"), Dense(width, "relu"), Dense(1)], seed=seed)
    model.compile("mse", {"name": "sgd", "learning_rate": 0.05})
    return model


def _steps(model, xs, ys, n=3, batch=16):
    """The weights after n steps on consecutive batches of the inputs `xs` and labels `ys` (lists)."""
    tracker = model.new_tracker()
    for i in range(n):
        rows = slice(i * batch, (i + 1) * batch)
        model.train_on_batch([x[rows] for x in xs], [y[rows] for y in ys], None, tracker)
    return {key: p.copy() for key, p in model.trainable_params.items()}


def _trained_both_ways(monkeypatch, build, xs, ys):
    """[weights after 3 steps]: first with the large kernels stepped in their product, then with no kernel large
    enough for that, so every weight is stepped by the optimizer from its gradient."""
    runs = []
    for limit in (kernels.FUSED_STEP_FROM, 1 << 62):
        monkeypatch.setattr(kernels, "FUSED_STEP_FROM", limit)
        runs.append(_steps(build(), xs, ys))
    return runs


def _assert_close(got, want):
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)


def _data(n=48, width=8, dtype=np.float32):
    x = rng.standard_normal((n, width)).astype(dtype)
    return x, (x[:, :1] * 2 - x[:, 1:2]).astype(dtype)


def test_only_large_plain_kernels_are_stepped_in_their_product(fused_calls):
    x, y = _data()
    _steps(_mlp(), [x], [y], n=2)
    assert fused_calls == [(300, 256), (300, 256)]  # 8 x 300 and 256 x 1 are below kernels.FUSED_STEP_FROM
    assert 300 * 256 >= kernels.FUSED_STEP_FROM > 8 * 300


def test_one_step_matches_the_sgd_formula_computed_here(gemm):
    model = _mlp()
    x, y = _data(16)
    w = {key: p.astype(np.float64) for key, p in model.trainable_params.items()}
    names = [layer.name for layer in model.layers[1:]]
    # forward and backward of the 3-layer ReLU network, in float64, by hand
    z1 = x @ w[f"{names[0]}/kernel"] + w[f"{names[0]}/bias"]
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w[f"{names[1]}/kernel"] + w[f"{names[1]}/bias"]
    h2 = np.maximum(z2, 0)
    out = h2 @ w[f"{names[2]}/kernel"] + w[f"{names[2]}/bias"]
    d_out = 2 * (out - y) / len(x)
    dz2 = (d_out @ w[f"{names[2]}/kernel"].T) * (z2 > 0)
    dz1 = (dz2 @ w[f"{names[1]}/kernel"].T) * (z1 > 0)  # through the kernel as it was before the step
    grads = {f"{names[2]}/kernel": h2.T @ d_out, f"{names[2]}/bias": d_out.sum(0),
             f"{names[1]}/kernel": h1.T @ dz2, f"{names[1]}/bias": dz2.sum(0),
             f"{names[0]}/kernel": x.T @ dz1, f"{names[0]}/bias": dz1.sum(0)}

    after = _steps(model, [x], [y], n=1)

    for key, g in grads.items():
        want = w[key] - 0.05 * g
        np.testing.assert_allclose(after[key], want, rtol=1e-4, atol=1e-5 * np.abs(want).max(), err_msg=key)
        assert np.abs(after[key] - w[key]).max() > 1e-4, key  # every weight moved: the check can tell
    assert model.optimizer.iterations == 1


def test_training_matches_the_gradient_then_optimizer_path(gemm, monkeypatch):
    x, y = _data()
    got, want = _trained_both_ways(monkeypatch, _mlp, [x], [y])
    _assert_close(got, want)


def test_the_numpy_twin_gives_the_bits_of_the_gradient_then_optimizer_path(monkeypatch):
    monkeypatch.setattr(kernels, "_bundled_gemm", lambda: {})
    x, y = _data()
    got, want = _trained_both_ways(monkeypatch, _mlp, [x], [y])
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_a_learning_rate_schedule_is_followed_step_by_step(monkeypatch):
    schedule = {"name": "exponential_decay", "initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 0.5}
    models = []

    def build():
        model = Sequential([Input(shape=[8]), Dense(300, "relu"), Dense(256, "relu"), Dense(1)], seed=3)
        model.compile("mse", {"name": "sgd", "learning_rate": schedule})
        models.append(model)
        return model

    x, y = _data()
    got, want = _trained_both_ways(monkeypatch, build, [x], [y])
    for model in models:
        assert model.optimizer.learning_rate == pytest.approx(0.1 * 0.5**3)
    _assert_close(got, want)


@pytest.mark.parametrize("optimizer", [
    {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
    {"name": "sgd", "learning_rate": 0.05, "clipnorm": 0.5},
    {"name": "sgd", "learning_rate": 0.05, "weight_decay": 0.1},
    {"name": "rmsprop"},
])
def test_other_rules_keep_the_gradient_then_optimizer_path(optimizer, monkeypatch, fused_calls):
    def build():
        model = Sequential([Input(shape=[8]), Dense(300, "relu"), Dense(256, "relu"), Dense(1)], seed=3)
        model.compile("mse", optimizer)
        return model

    x, y = _data()
    got, want = _trained_both_ways(monkeypatch, build, [x], [y])
    assert fused_calls == []
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


@pytest.mark.parametrize("optimizer", ["adam", {"name": "sgd", "learning_rate": 0.1}])
def test_an_optimizer_given_gradient_factors_steps_as_with_the_gradient(optimizer, gemm):
    """Optimizer.apply takes a gradient as the factors (a, b) of a.T @ b: the result is that of the gradient."""
    from nntrain.engine.optimizers import OPTIMIZERS

    a, b = rng.standard_normal((16, 300)).astype(np.float32), rng.standard_normal((16, 256)).astype(np.float32)
    start = {"k": rng.standard_normal((300, 256)).astype(np.float32), "b": rng.standard_normal(7).astype(np.float32)}
    bias_grad = rng.standard_normal(7).astype(np.float32)
    results = []
    for factors in (True, False):
        flat = np.concatenate([v.reshape(-1) for v in start.values()])
        flat_grads = np.zeros_like(flat)
        params = {"k": flat[:-7].reshape(300, 256), "b": flat[-7:]}
        grads = {"k": flat_grads[:-7].reshape(300, 256), "b": flat_grads[-7:]}
        grads["b"][...] = bias_grad
        opt = OPTIMIZERS.build(optimizer)
        opt.build(params, flat_params=flat, flat_grads=flat_grads)
        if factors:
            opt.apply(params, grads, {"k": (a, b)})  # SGD fuses the product with its step; Adam writes it first
        else:
            grads["k"][...] = a.T @ b
            opt.apply(params, grads)
        results.append(flat.copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)
    assert np.abs(results[0] - np.concatenate([v.reshape(-1) for v in start.values()])).min() > 0


def test_a_regularized_kernel_keeps_its_penalty_gradient(fused_calls):
    x, y = _data(16)
    penalty = {"name": "l2", "l2": 0.5}
    model = Sequential([Input(shape=[8]), Dense(300, "relu"), Dense(256, "relu", kernel_regularizer=penalty),
                        Dense(1)], seed=3)
    model.compile("mse", {"name": "sgd", "learning_rate": 0.05})
    kernel = model.layers[2].params["kernel"]
    before = kernel.copy()
    _steps(model, [x], [y], n=1)
    assert fused_calls == []
    # the penalty alone would shrink every weight by lr * 2 * 0.5 = 5%; the data's gradient is far smaller here
    shrink = np.abs(kernel).sum() / np.abs(before).sum()
    assert 0.94 < shrink < 0.96


def test_a_kernel_fed_multi_hot_rows_is_stepped_like_its_dense_twin():
    """A large kernel that reads multi-hot input keeps its sparse gradient product, stepped by the optimizer; the
    weights still match the same model trained on the dense 0/1 matrix (whose kernel is stepped in its product)."""
    n, width = 32, 5000
    indptr = np.arange(0, 4 * n + 1, 4)
    indices = np.concatenate([np.sort(rng.choice(width, 4, replace=False)) for _ in range(n)]).astype(np.int32)
    sparse = MultiHot(indptr, indices, width)
    dense = np.zeros((n, width), np.float32)
    dense[np.repeat(np.arange(n), 4), indices] = 1
    y = rng.standard_normal((n, 1)).astype(np.float32)
    results = []
    for as_sparse, x in ((True, sparse), (False, dense)):
        model = Sequential([Input(shape=[width], sparse=as_sparse), Dense(16, "relu"), Dense(1)], seed=5)
        model.compile("mse", {"name": "sgd", "learning_rate": 0.1})
        tracker = model.new_tracker()
        for _ in range(3):
            model.train_on_batch([x], [y], None, tracker)
        results.append({k: p.copy() for k, p in model.trainable_params.items()})
    _assert_close(*results)


def test_a_large_kernel_inside_a_graph_with_two_outputs(gemm, monkeypatch, fused_calls):
    def build():
        a, b = Input(shape=[8], name="a"), Input(shape=[4], name="b")
        nodes = [Node(Dense(300, "relu", name="h1"), ["a"]), Node(Dense(256, "relu", name="h2"), ["h1"]),
                 Node(Dense(1, name="main"), ["h2"]), Node(Dense(1, name="aux"), ["h1"]),
                 Node(Dense(3, name="side"), ["b"])]
        model = Model([a, b], nodes, ["main", "aux", "side"], seed=1)
        model.compile("mse", {"name": "sgd", "learning_rate": 0.05}, loss_weights=[0.7, 0.2, 0.1])
        return model

    x, y = _data()
    xb = rng.standard_normal((len(x), 4)).astype(np.float32)
    ys = [y, -y, np.repeat(y, 3, axis=1)]
    got, want = _trained_both_ways(monkeypatch, build, [x, xb], ys)
    assert fused_calls == [(300, 256)] * 3  # h2's kernel, once a step, only in the first run
    assert len(got) == 10
    _assert_close(got, want)


def test_fit_is_bit_for_bit_reproducible_with_the_step_in_the_product():
    x, y = _data(96)
    runs = []
    for _ in range(2):
        model = _mlp()
        fit(model, x, y, epochs=2, batch_size=16, seed=4)
        runs.append({k: p.copy() for k, p in model.trainable_params.items()})
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key])
