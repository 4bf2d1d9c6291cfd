"""MultiHot: construction, row selection and products against the dense matrix, and Dense fed a MultiHot against
Dense fed its dense equivalent (outputs, gradients, training)."""

from __future__ import annotations

import numpy as np
import pytest

from nntrain.engine import kernels
from nntrain.engine.layers import Dense, Dropout, Input
from nntrain.engine.model import Sequential
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError, ShapeError
from nntrain.training.loop import evaluate, fit, predict


def _random_multi_hot(rows: int, cols: int, seed: int = 0) -> tuple[MultiHot, np.ndarray]:
    rng = np.random.default_rng(seed)
    dense = (rng.random((rows, cols)) < 0.3).astype(np.float32)
    dense[1] = 0  # an empty row
    return MultiHot.from_dense(dense), dense


def test_from_sequences_collapses_repeats_and_drops_unknown_ids():
    m = MultiHot.from_sequences([[3, 1, 3, 3], [], [0, 9, 4, -1, 12]], n_cols=5)
    assert m.shape == (3, 5) and len(m) == 3 and m.nnz == 4
    np.testing.assert_array_equal(m.toarray(), [[0, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 1]])
    np.testing.assert_array_equal(m.indptr, [0, 2, 2, 4])
    assert m.indices.dtype == np.int32 and m.indptr.dtype == np.int64
    assert MultiHot.from_sequences([], n_cols=4).shape == (0, 4)


def test_from_dense_round_trip():
    m, dense = _random_multi_hot(7, 11)
    assert m.shape == dense.shape and m.nnz == int(dense.sum())
    np.testing.assert_array_equal(m.toarray(), dense)
    assert m.toarray(np.float64).dtype == np.float64


@pytest.mark.parametrize("rows", [[4, 0, 4, 2], [6, 5, 4, 3, 2, 1, 0], [1], []])
def test_take_matches_dense_rows(rows):
    m, dense = _random_multi_hot(7, 11)
    np.testing.assert_array_equal(m.take(np.array(rows, dtype=np.int64)).toarray(), dense[rows].reshape(-1, 11))


def test_slicing_matches_dense():
    m, dense = _random_multi_hot(9, 6)
    for sl in (slice(2, 7), slice(None, None, 3), slice(5, 5), slice(-2, None)):
        np.testing.assert_array_equal(m[sl].toarray(), dense[sl])


def test_products_match_dense():
    m, dense = _random_multi_hot(8, 10, seed=2)
    rng = np.random.default_rng(1)
    w = rng.standard_normal((10, 3))
    np.testing.assert_allclose(m.matmul(w), dense @ w, rtol=1e-12)
    dz = rng.standard_normal((8, 3))
    np.testing.assert_allclose(m.t_matmul(dz), dense.T @ dz, rtol=1e-12)
    empty = MultiHot.from_sequences([[], []], n_cols=10)
    np.testing.assert_array_equal(empty.matmul(w), np.zeros((2, 3)))


@pytest.mark.parametrize("scipy_kernels", ["private", "public csr_matrix"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_write_into_the_given_buffer(scipy_kernels, dtype, monkeypatch):
    if scipy_kernels != "private":  # what runs should a scipy release move its private kernels
        monkeypatch.setattr(kernels, "_scipy_csr_kernels", lambda: None)
    m, dense = _random_multi_hot(8, 10, seed=4)
    rng = np.random.default_rng(2)
    w, dz = rng.standard_normal((10, 3)).astype(dtype), rng.standard_normal((8, 3)).astype(dtype)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    z = m.matmul(w)
    assert z.dtype == dtype
    np.testing.assert_allclose(z, dense @ w, rtol=tol)
    out = np.full((10, 3), 7.0, dtype)  # stale values are overwritten, not added to
    assert m.t_matmul(dz, out=out) is out
    np.testing.assert_allclose(out, dense.T @ dz, rtol=tol, atol=tol)
    strided = np.full((10, 6), 7.0, dtype)[:, ::2]  # not contiguous: written through a copy
    m.t_matmul(dz, out=strided)
    np.testing.assert_allclose(strided, dense.T @ dz, rtol=tol, atol=tol)


def test_dense_layer_on_multi_hot_matches_dense_input():
    m, dense = _random_multi_hot(6, 9, seed=3)
    outputs, grads = [], []
    for x in (m, dense.astype(np.float64)):
        layer = Dense(4, activation="tanh", kernel_regularizer="l2")
        layer.build((9,), np.random.default_rng(0), np.float64)
        y, backward = layer.forward(x, True)
        dy = np.random.default_rng(5).standard_normal(y.shape)
        dx = backward(dy)
        outputs.append(y)
        grads.append({k: g.copy() for k, g in layer.grads.items()})
        if x is m:
            assert dx is None  # nothing upstream of the data
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-12)
    np.testing.assert_allclose(grads[0]["kernel"], grads[1]["kernel"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads[0]["bias"], grads[1]["bias"], rtol=1e-12)
    assert not grads[0]["kernel"][dense.sum(axis=0) == 0].any()  # columns that never fire get no gradient
    assert np.abs(grads[0]["kernel"]).max() > 0.01


def test_training_on_multi_hot_matches_dense_training():
    rng = np.random.default_rng(0)
    sequences = [rng.integers(0, 30, rng.integers(1, 8)) for _ in range(64)]
    m = MultiHot.from_sequences(sequences, n_cols=20)
    y = (m.toarray()[:, :10].sum(axis=1) > m.toarray()[:, 10:].sum(axis=1)).astype(np.float32)
    models = []
    for x in (m, m.toarray()):
        model = Sequential([Dense(8, activation="relu"), Dense(1, activation="sigmoid")], input_shape=(20,),
                           seed=1, dtype="float64")
        model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        history = fit(model, x, y, epochs=5, batch_size=16, validation_split=0.25, seed=3)  # shuffled batches
        models.append((model, history.history))
    (sparse_model, hs), (dense_model, hd) = models
    for layer, weights in dense_model.get_weights().items():
        for key, w in weights.items():
            np.testing.assert_allclose(sparse_model.get_weights()[layer][key], w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(hs["val_loss"], hd["val_loss"], rtol=1e-9)
    assert hs["loss"][-1] < hs["loss"][0]
    np.testing.assert_allclose(predict(sparse_model, m), predict(dense_model, m.toarray()), rtol=1e-9)
    assert evaluate(sparse_model, m, y)["loss"] == pytest.approx(evaluate(dense_model, m.toarray(), y)["loss"])


def test_multi_hot_of_the_wrong_width_or_into_the_wrong_layer():
    m = MultiHot.from_sequences([[1], [2, 3]], n_cols=5)
    model = Sequential([Dense(2)], input_shape=(4,))
    with pytest.raises(ShapeError, match=r"expects examples of shape \(None, 4\), got \(None, 5\)"):
        predict(model, m)
    model = Sequential([Input(shape=[5], sparse=True, name="words"), Dropout(0.2, name="drop"), Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ConfigError, match=r"`drop` \(Dropout\) cannot read the multi-hot input `words`"):
        fit(model, m, np.zeros(2), epochs=1)
