"""Fixtures shared by the engine and training tests: a central-difference gradient checker and small data sets."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

# The suite starts ~100 Python processes (xdist workers, real `nntrain` commands). Where the environment says not
# to write bytecode (PYTHONDONTWRITEBYTECODE), each of them would compile nntrain and the tests from source again:
# for the suite, bytecode goes to a cache of its own under the temporary folder, never into the checkout.
if sys.dont_write_bytecode or os.environ.get("PYTHONDONTWRITEBYTECODE"):
    _PYCACHE = str(Path(tempfile.gettempdir()) / f"nntrain-tests-pycache-{os.getuid()}")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = _PYCACHE
    sys.dont_write_bytecode, sys.pycache_prefix = False, _PYCACHE

try:  # imported once up front: its dependency google-crc32c sets CRC32C_SW_MODE in os.environ on first import, which
    import tensorboardX  # noqa: F401  # tests/helpers.invoke would otherwise blame on whichever command came first
except ImportError:
    pass


def _numeric_grad(f: Callable[[], float], a: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """dF/da by central differences; `a` is perturbed in place (and restored) one element at a time."""
    g = np.zeros(a.shape, np.float64)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    assert np.shares_memory(flat, a), "the array must be perturbed in place"
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return g


def _assert_grad(f: Callable[[], float], a: np.ndarray, analytic, what: str, tol: float = 1e-6) -> None:
    """Relative error ||analytic - numeric|| / (||analytic|| + ||numeric||) below `tol`."""
    assert a.dtype == np.float64, f"{what}: gradient checks need float64, got {a.dtype}"
    numeric = _numeric_grad(f, a)
    analytic = np.asarray(analytic, np.float64)
    assert analytic.shape == numeric.shape, f"{what}: gradient shape {analytic.shape}, expected {numeric.shape}"
    assert np.abs(numeric).max() > 1e-8, f"{what}: the numeric gradient is zero, the check would prove nothing"
    err = np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic) + np.linalg.norm(numeric))
    assert err < tol, f"{what}: relative error {err:.3g} >= {tol:g}\nanalytic={analytic}\nnumeric={numeric}"


@pytest.fixture
def assert_grad():
    """assert_grad(f, a, analytic, what): f() -> float reads `a`; compares `analytic` with central differences."""
    return _assert_grad


@pytest.fixture
def blobs():
    """Three well-separated Gaussian classes in 4-D: x (90, 4) float32, y (90,) int64 labels 0..2."""
    rng = np.random.default_rng(7)
    centers = np.array([[2.0, 0, 0, 1], [-2, 2, 0, 0], [0, -2, 2, -1]])
    y = np.repeat(np.arange(3), 30)
    x = centers[y] + 0.4 * rng.standard_normal((90, 4))
    order = rng.permutation(90)
    return x[order].astype(np.float32), y[order]


@pytest.fixture(params=["bundled gemm", "numpy twin"])
def gemm(request, monkeypatch):
    """Run a test twice: with NumPy's bundled BLAS gemm (where this NumPy has one) and with its NumPy twin
    (engine/kernels.py)."""
    from nntrain.engine import kernels

    if request.param == "numpy twin":
        monkeypatch.setattr(kernels, "_bundled_gemm", lambda: {})
    return request.param
