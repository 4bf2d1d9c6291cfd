"""Losses: gradients against finite differences, values against hand-computed formulas, stability, shape errors."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from nntrain.engine.losses import LOSSES
from nntrain.errors import ConfigError, DataError, ShapeError

EPS = 1e-7


def _variants() -> list[tuple[str, dict]]:
    """Every registered loss with its default arguments, and again with each non-default option it accepts."""
    out = []
    for name in LOSSES.names():
        config = LOSSES.build(name).get_config()
        out.append((name, {}))
        if "from_logits" in config:
            out.append((name, {"from_logits": True}))
        if "label_smoothing" in config:
            out.append((name, {"label_smoothing": 0.2}))
            out.append((name, {"from_logits": True, "label_smoothing": 0.2}))
        if "delta" in config:
            out.append((name, {"delta": 0.5}))
        if "axis" in config:  # classes on axis 1 of (batch, classes, steps)
            out.append((name, {"axis": 1}))
            out.append((name, {"axis": 1, "from_logits": True}))
    return out


VARIANTS = _variants()


def _example(loss, rng, shape: tuple, dtype=np.float64):
    """Labels and predictions of `shape` the loss accepts: same-shape soft labels if it takes them, else class
    indices of shape[:-1].

    Predictions are probabilities away from the clip bounds for a cross-entropy without from_logits, and wide-spread
    values (both Huber regimes) otherwise. Only `check` is used to find the label format, so a new loss is covered.
    """
    config = loss.get_config()
    if "from_logits" in config and not config["from_logits"]:
        y_pred = rng.uniform(0.05, 0.95, shape)
    else:
        y_pred = rng.normal(0.0, 3.0, shape)
    try:
        loss.check(shape, shape)
        y_true = rng.dirichlet(np.ones(shape[-1]), shape[:-1])  # in [0, 1], summing to 1: fits every such loss
    except ShapeError:
        loss.check(shape[:-1], shape)
        y_true = rng.integers(0, shape[-1], shape[:-1])
    return y_true, y_pred.astype(dtype)


def _objective(loss, y_true, y_pred, g) -> float:
    per_sample, _ = loss.forward(y_true, y_pred)
    return float(np.dot(g, per_sample))


@pytest.mark.parametrize("name,kwargs", VARIANTS, ids=[f"{n}-{k}" for n, k in VARIANTS])
def test_gradient_matches_central_differences(name, kwargs):
    rng = np.random.default_rng(zlib.crc32(f"{name}{kwargs}".encode()))
    loss = LOSSES.build(name, **kwargs)
    for rank in (2, 2, 3):  # (batch, width) and (batch, steps, width)
        shape = tuple(int(n) for n in rng.integers(2, 6, rank))
        batch = shape[0]
        y_true, y_pred = _example(loss, rng, shape)
        g = rng.uniform(0.1, 2.0, batch)  # non-uniform sample weights

        per_sample, backward = loss.forward(y_true, y_pred)
        assert per_sample.shape == (batch,) and per_sample.dtype == np.float64
        analytic = backward(g)
        assert analytic.shape == y_pred.shape and analytic.dtype == y_pred.dtype

        h = 1e-6
        numeric = np.zeros_like(y_pred)
        for i in np.ndindex(y_pred.shape):
            up, down = y_pred.copy(), y_pred.copy()
            up[i] += h
            down[i] -= h
            numeric[i] = (_objective(loss, y_true, up, g) - _objective(loss, y_true, down, g)) / (2 * h)
        rel = np.linalg.norm(numeric - analytic) / max(np.linalg.norm(numeric) + np.linalg.norm(analytic), 1e-12)
        assert rel < 1e-6, f"{name}{kwargs}: relative error {rel:.2e}"


@pytest.mark.parametrize("name,kwargs", VARIANTS, ids=[f"{n}-{k}" for n, k in VARIANTS])
def test_get_config_round_trips(name, kwargs):
    loss = LOSSES.build(name, **kwargs)
    assert {**loss.get_config(), **kwargs} == loss.get_config()
    rebuilt = LOSSES.build(name, **loss.get_config())
    assert type(rebuilt) is type(loss) and rebuilt.get_config() == loss.get_config()


@pytest.mark.parametrize("name", LOSSES.names())
def test_float32_in_float32_out(name):
    loss = LOSSES.build(name)
    y_true, y_pred = _example(loss, np.random.default_rng(0), (4, 3), np.float32)
    per_sample, backward = loss.forward(y_true, y_pred)
    assert per_sample.dtype == np.float32 and backward(np.full(4, 0.25)).dtype == np.float32


def test_aliases_and_unknown_name():
    assert type(LOSSES.build("mse")).__name__ == "MeanSquaredError"
    assert type(LOSSES.build("bce")).__name__ == "BinaryCrossentropy"
    with pytest.raises(ConfigError, match="did you mean `binary_crossentropy`"):
        LOSSES.build("binary_crosentropy")


# ---------------------------------------------------------------------------------------------------------------------
# Values, computed here from the formulas


Y_REG = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
P_REG = np.array([[0.5, 3.0, 2.0], [0.0, -1.2, 0.5]])


def test_mse_and_mae_values():
    mse, _ = LOSSES.build("mse").forward(Y_REG, P_REG)
    mae, _ = LOSSES.build("mae").forward(Y_REG, P_REG)
    np.testing.assert_allclose(mse, [(0.25 + 4 + 0) / 3, (9 + 0.04 + 0) / 3])
    np.testing.assert_allclose(mae, [(0.5 + 2 + 0) / 3, (3 + 0.2 + 0) / 3])


@pytest.mark.parametrize("delta", [1.0, 2.5])
def test_huber_values_in_both_regimes(delta):
    per_sample, _ = LOSSES.build("huber", delta=delta).forward(Y_REG, P_REG)
    expected = []
    for row_t, row_p in zip(Y_REG.tolist(), P_REG.tolist()):
        terms = []
        for t, p in zip(row_t, row_p):
            e = abs(p - t)
            terms.append(0.5 * e * e if e <= delta else delta * e - 0.5 * delta * delta)
        expected.append(sum(terms) / len(terms))
    np.testing.assert_allclose(per_sample, expected)
    # The data covers both regimes: errors 2 and 3 are linear with delta 1, only 3 with delta 2.5.
    n_linear = sum(abs(p - t) > delta for p, t in zip(P_REG.ravel(), Y_REG.ravel()))
    assert n_linear == {1.0: 2, 2.5: 1}[delta]


def test_huber_rejects_bad_delta():
    with pytest.raises(ConfigError, match="delta"):
        LOSSES.build("huber", delta=0)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_binary_crossentropy_values(smoothing):
    y = [[1.0, 0.0], [0.0, 1.0]]
    p = [[0.9, 0.2], [0.4, 0.7]]
    expected = []
    for row_t, row_p in zip(y, p):
        terms = []
        for t, q in zip(row_t, row_p):
            t = t * (1 - smoothing) + 0.5 * smoothing
            terms.append(-(t * math.log(q) + (1 - t) * math.log(1 - q)))
        expected.append(sum(terms) / 2)
    loss = LOSSES.build("bce", label_smoothing=smoothing)
    np.testing.assert_allclose(loss.forward(np.array(y), np.array(p))[0], expected)
    logits = np.log(np.array(p) / (1 - np.array(p)))  # the same probabilities, as logits
    fused = LOSSES.build("bce", from_logits=True, label_smoothing=smoothing)
    np.testing.assert_allclose(fused.forward(np.array(y), logits)[0], expected)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_categorical_crossentropy_values(smoothing):
    y = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    z = [[2.0, 1.0, -1.0], [0.5, 0.5, 3.0]]
    expected = []
    for row_t, row_z in zip(y, z):
        norm = sum(math.exp(v) for v in row_z)
        probs = [math.exp(v) / norm for v in row_z]
        targets = [t * (1 - smoothing) + smoothing / 3 for t in row_t]
        expected.append(-sum(t * math.log(q) for t, q in zip(targets, probs)))
    logit_loss = LOSSES.build("categorical_crossentropy", from_logits=True, label_smoothing=smoothing)
    np.testing.assert_allclose(logit_loss.forward(np.array(y), np.array(z))[0], expected)
    softmax = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    prob_loss = LOSSES.build("categorical_crossentropy", label_smoothing=smoothing)
    np.testing.assert_allclose(prob_loss.forward(np.array(y), softmax)[0], expected)


def test_categorical_crossentropy_rescales_probabilities_like_keras():
    # Keras divides by the row sum before clipping: [0.2, 0.6, 0.2] * 2 gives the same loss.
    per_sample, _ = LOSSES.build("cce").forward(np.array([[0, 1, 0]]), np.array([[0.4, 1.2, 0.4]]))
    np.testing.assert_allclose(per_sample, [-math.log(0.6)])


def test_sparse_categorical_crossentropy_values():
    z = [[2.0, 1.0, -1.0], [0.5, 0.5, 3.0]]
    labels = [1, 2]
    expected = [math.log(sum(math.exp(v) for v in row)) - row[k] for row, k in zip(z, labels)]
    loss = LOSSES.build("sparse_categorical_crossentropy", from_logits=True)
    np.testing.assert_allclose(loss.forward(np.array(labels), np.array(z))[0], expected)
    np.testing.assert_allclose(loss.forward(np.array([[1.0], [2.0]]), np.array(z))[0], expected)  # (batch, 1) floats


def test_sample_weighted_batch_loss():
    per = [(0.25 + 4 + 0) / 3, (9 + 0.04 + 0) / 3]
    assert LOSSES.build("mse")(Y_REG, P_REG, sample_weight=[2.0, 0.5]) == pytest.approx((2 * per[0] + 0.5 * per[1]) / 2)


def test_fused_backward_is_softmax_minus_labels():
    z = np.array([[2.0, 1.0, -1.0], [0.5, 0.5, 3.0]])
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    g = np.array([0.5, 2.0])
    softmax = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = LOSSES.build("categorical_crossentropy").with_logits()
    np.testing.assert_allclose(loss.forward(y, z)[1](g), (softmax - y) * g[:, None])
    sparse = LOSSES.build("sparse_categorical_crossentropy").with_logits()
    np.testing.assert_allclose(sparse.forward(np.array([1, 0]), z)[1](g), (softmax - y) * g[:, None])
    bce = LOSSES.build("binary_crossentropy").with_logits()
    np.testing.assert_allclose(bce.forward(y, z)[1](g), (1 / (1 + np.exp(-z)) - y) * g[:, None] / 3)
    assert LOSSES.build("bce").fuses_with == "sigmoid" and LOSSES.build("cce").fuses_with == "softmax"
    with pytest.raises(ConfigError):
        LOSSES.build("mse").with_logits()


# ---------------------------------------------------------------------------------------------------------------------
# Stability


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_huge_logits_stay_finite(name, dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype)
    y = np.array([1, 0]) if name.startswith("sparse") else np.array([[0, 1, 0], [1, 0, 0]], dtype)
    loss = LOSSES.build(name, from_logits=True)
    per_sample, backward = loss.forward(y, z)
    grad = backward(np.ones(2, dtype))
    assert np.all(np.isfinite(per_sample)) and np.all(np.isfinite(grad)) and grad.dtype == dtype
    if name == "binary_crossentropy":
        # softplus(z) - y z per output: 1e4, 1e4, log 2 and 1e4, 0, 1e4.
        expected = [(2e4 + math.log(2)) / 3, 2e4 / 3]
    else:
        # logsumexp(z) - z_label, and logsumexp is max(z) here: 1e4 - (-1e4) for both samples.
        expected = [2e4, 2e4]
    np.testing.assert_allclose(per_sample, expected, rtol=1e-6)


def test_probabilities_of_zero_and_one_give_keras_clipped_values():
    clipped = -math.log(EPS)  # the loss of a certain wrong answer
    near_one = -math.log(1 - EPS)  # the loss of a certain right answer
    bce, backward = LOSSES.build("bce").forward(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]))
    np.testing.assert_allclose(bce, [(clipped + near_one) / 2], rtol=1e-6)
    assert np.all(backward(np.ones(1)) == 0)  # clipped: no gradient
    cce, backward = LOSSES.build("cce").forward(np.array([[0.0, 1.0, 0.0]]), np.array([[1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(cce, [clipped], rtol=1e-6)
    assert np.all(np.isfinite(backward(np.ones(1))))
    scce, _ = LOSSES.build("scce").forward(np.array([0]), np.array([[1.0, 0.0, 0.0]], np.float32))
    np.testing.assert_allclose(scce, [-math.log(np.float32(1) - np.float32(EPS))], rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------------
# Shapes and labels


def test_one_hot_labels_with_sparse_loss_name_both_shapes():
    with pytest.raises(ShapeError, match=r"\(32, 10\).*\(32, 10\).*one-hot.*categorical_crossentropy"):
        LOSSES.build("sparse_categorical_crossentropy").check((32, 10), (32, 10))


def test_integer_labels_with_categorical_loss():
    with pytest.raises(ShapeError, match=r"\(32,\).*\(32, 10\).*sparse_categorical_crossentropy"):
        LOSSES.build("categorical_crossentropy").forward(np.zeros(32, int), np.full((32, 10), 0.1))


def test_width_mismatch_for_mse():
    with pytest.raises(ShapeError, match=r"\(8, 3\).*\(8, 2\).*expected labels of shape \(8, 2\)"):
        LOSSES.build("mse").check((8, 3), (8, 2))
    LOSSES.build("mse").check((None,), (None, 1))  # a column of targets fits a 1-wide output


def test_sparse_labels_out_of_range_or_fractional():
    loss = LOSSES.build("sparse_categorical_crossentropy")
    with pytest.raises(DataError, match="out of range for 3 classes"):
        loss.forward(np.array([0, 3]), np.full((2, 3), 1 / 3))
    with pytest.raises(DataError, match="integer"):
        loss.forward(np.array([0.0, 1.5]), np.full((2, 3), 1 / 3))


def test_bad_arguments():
    with pytest.raises(ConfigError, match="label_smoothing"):
        LOSSES.build("bce", label_smoothing=1.5)
    with pytest.raises(ConfigError, match="from_logits"):
        LOSSES.build("cce", from_logits="yes")
    with pytest.raises(ConfigError, match="huber"):
        LOSSES.build("huber", alpha=1)
