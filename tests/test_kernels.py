"""engine/kernels.py: every speed-up gives what its plain twin gives, and the twin is what runs when the fast path is
taken away (a NumPy without the bundled OpenBLAS, a scipy that moved its private sparse kernels)."""

from __future__ import annotations

import numpy as np
import pytest

from nntrain.engine import kernels
from nntrain.engine.sparse import MultiHot

rng = np.random.default_rng(7)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("m, n, k", [(784, 300, 32), (3, 5, 1), (7, 1, 40)])
def test_add_at_b_adds_the_scaled_product_in_place(gemm, dtype, tol, m, n, k):
    a = rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    want = c.astype(np.float64) - 0.03 * (a.astype(np.float64).T @ b.astype(np.float64))
    before = c.ctypes.data
    kernels.add_at_b(c, a, b, -0.03)
    assert c.ctypes.data == before and c.dtype == dtype
    np.testing.assert_allclose(c, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_add_at_b_agrees_with_its_twin(dtype):
    a, b = rng.standard_normal((32, 300)).astype(dtype), rng.standard_normal((32, 100)).astype(dtype)
    c = rng.standard_normal((300, 100)).astype(dtype)
    fast, twin = c.copy(), c.copy()
    kernels.add_at_b(fast, a, b, -0.01)
    kernels.add_at_b_numpy(twin, a, b, -0.01)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(fast, twin, rtol=tol, atol=tol)


def test_add_at_b_takes_strided_and_mixed_inputs(gemm):
    a = rng.standard_normal((20, 12)).astype(np.float32)[:, ::2]  # not contiguous
    b = rng.standard_normal((5, 20)).astype(np.float32).T  # a transposed view
    c = np.zeros((6, 5), np.float32)
    kernels.add_at_b(c, a, b, 2.0)
    np.testing.assert_allclose(c, 2.0 * a.T @ b, rtol=1e-5, atol=1e-5)


def test_bundled_gemm_is_found_for_a_scipy_openblas_numpy():
    config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    if config.get("name") != "scipy-openblas" or "USE64BITINT" not in str(config.get("openblas configuration", "")):
        pytest.skip(f"NumPy is built against {config.get('name')!r}: the NumPy twin is used")
    assert set(kernels._bundled_gemm()) == {np.dtype(np.float32), np.dtype(np.float64)}


# --- products of a 0/1 sparse matrix ---------------------------------------------------------------------------------


def _multi_hot(rows: int, cols: int) -> tuple[MultiHot, np.ndarray]:
    m = MultiHot.from_sequences([rng.choice(cols, rng.integers(0, 6), replace=False) for _ in range(rows)], cols)
    return m, m.toarray(np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_private_scipy_kernels_agree_with_the_public_matrix_product(dtype, monkeypatch):
    if kernels._scipy_csr_kernels() is None:
        pytest.skip("this scipy has no private CSR kernels: the public product is the only path")
    m, dense = _multi_hot(40, 30)
    w, dz = rng.standard_normal((30, 4)).astype(dtype), rng.standard_normal((40, 4)).astype(dtype)
    results = []
    for path in ("private", "public"):
        if path == "public":
            monkeypatch.setattr(kernels, "_scipy_csr_kernels", lambda: None)
        z, g = np.zeros((40, 4), dtype), np.zeros((30, 4), dtype)
        kernels.csr_matmul(m.indptr, m.indices, 30, w, z)
        kernels.csr_t_matmul(m.indptr, m.indices, 30, dz, g)
        results.append((z, g))
    (z_fast, g_fast), (z_twin, g_twin) = results
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(z_fast, z_twin, rtol=tol, atol=tol)
    np.testing.assert_allclose(g_fast, g_twin, rtol=tol, atol=tol)
    np.testing.assert_allclose(z_fast, dense @ w, rtol=tol, atol=tol)
    np.testing.assert_allclose(g_fast, dense.T @ dz, rtol=tol, atol=tol)


def test_sparse_products_add_into_their_output():
    m, dense = _multi_hot(10, 8)
    w = rng.standard_normal((8, 3))
    out = np.ones((10, 3))
    kernels.csr_matmul(m.indptr, m.indices, 8, w, out)
    np.testing.assert_allclose(out, 1 + dense @ w, rtol=1e-12)


def test_ones_is_a_shared_read_only_vector():
    v = kernels.ones(5, np.float32)
    np.testing.assert_array_equal(v, np.ones(5, np.float32))
    assert not v.flags.writeable and kernels.ones(3, np.float32).base is v.base
    assert kernels.ones(1000, np.float64).dtype == np.float64


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-7), (np.float64, 1e-15)])
def test_gate_sigmoid_agrees_with_the_stable_sigmoid(dtype, tol):
    from nntrain.engine.ops import sigmoid

    z = np.concatenate([rng.standard_normal(1000) * 8, [0.0, -1e4, 1e4, -88.7, 88.7]]).astype(dtype)
    fast = kernels.gate_sigmoid(z)
    assert fast.dtype == dtype and np.isfinite(fast).all()
    np.testing.assert_allclose(fast, sigmoid(z), rtol=0, atol=tol)
