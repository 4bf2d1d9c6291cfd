"""engine/ops.py: the stable sigmoid, softplus, softmax and log-softmax agree with their textbook formulas where
those are safe, stay finite where those overflow, and are the ones activations and losses use."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from nntrain.engine import ops
from nntrain.engine.activations import ACTIVATIONS
from nntrain.engine.losses import LOSSES

ENGINE = Path(ops.__file__).parent
rng = np.random.default_rng(3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_textbook_formulas_where_they_are_safe(dtype):
    x = rng.uniform(-8, 8, (5, 7)).astype(dtype)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    wide = x.astype(np.float64)
    for got, want in [
        (ops.sigmoid(x), 1 / (1 + np.exp(-wide))),
        (ops.softplus(x), np.log(1 + np.exp(wide))),
        (ops.softmax(x), np.exp(wide) / np.exp(wide).sum(axis=-1, keepdims=True)),
        (ops.softmax(x, axis=0), np.exp(wide) / np.exp(wide).sum(axis=0, keepdims=True)),
        (ops.log_softmax(x), wide - np.log(np.exp(wide).sum(axis=-1, keepdims=True))),
    ]:
        assert got.dtype == dtype and got.shape == x.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_finite_for_logits_of_any_size():
    x = np.array([[-1e4, 0.0, 1e4], [-800.0, -700.0, 900.0]], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is the point
        sig, plus, soft, log_soft = ops.sigmoid(x), ops.softplus(x), ops.softmax(x), ops.log_softmax(x)
    np.testing.assert_array_equal(sig[0], [0, 0.5, 1])
    np.testing.assert_array_equal(plus[0], [0, np.log(np.float32(2)), 1e4])
    np.testing.assert_array_equal(soft[0], [0, 0, 1])
    np.testing.assert_allclose(log_soft[0], [-2e4, -1e4, 0])
    assert np.isfinite(log_soft).all() and np.allclose(soft.sum(axis=-1), 1)


def test_softmax_parts_give_softmax_and_log_softmax():
    z = rng.standard_normal((4, 6))
    shifted, e, total = ops.softmax_parts(z)
    np.testing.assert_array_equal(e / total, ops.softmax(z))
    np.testing.assert_array_equal(shifted - np.log(total), ops.log_softmax(z))


def test_activations_and_fused_losses_compute_through_ops():
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(ACTIVATIONS.build("sigmoid")(x)[0], ops.sigmoid(x))
    np.testing.assert_array_equal(ACTIVATIONS.build("softplus")(x)[0], ops.softplus(x))
    np.testing.assert_array_equal(ACTIVATIONS.build("softmax")(x)[0], ops.softmax(x))
    labels = np.eye(4, dtype=np.float32)[[0, 2, 3]]
    per_sample, backward = LOSSES.build({"name": "categorical_crossentropy", "from_logits": True}).forward(labels, x)
    np.testing.assert_array_equal(per_sample, -(labels * ops.log_softmax(x)).sum(axis=-1))
    np.testing.assert_allclose(backward(1.0), ops.softmax(x) - labels, rtol=1e-6)
    per_sample, backward = LOSSES.build({"name": "bce", "from_logits": True}).forward(labels, x)
    np.testing.assert_allclose(per_sample, (ops.softplus(x) - labels * x).mean(axis=-1), rtol=1e-6)
    np.testing.assert_allclose(backward(1.0), (ops.sigmoid(x) - labels) / 4, rtol=1e-6)


def test_the_engine_writes_each_function_once():
    """No engine module but ops.py defines sigmoid, softplus or softmax (under any spelling) or takes exp(-|x|)."""
    for path in ENGINE.rglob("*.py"):
        if path.name == "ops.py":
            continue
        tree = ast.parse(path.read_text())
        defined = {node.name.lstrip("_") for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert not defined & {"sigmoid", "softplus", "softmax", "log_softmax", "softmax_parts"}, path
        assert "np.exp(-np.abs(" not in path.read_text(), path
