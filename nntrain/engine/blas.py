"""C += alpha * A.T @ B in one matrix product: the step of plain SGD, taken inside the kernel's gradient product.

NumPy's matmul always writes a fresh result, so `kernel -= lr * (x.T @ dz)` costs the product plus two passes over
a gradient the size of the kernel. BLAS gemm computes C = alpha * op(A) @ B + beta * C in one call; with beta = 1 the
kernel is updated where the product is written and no gradient exists at all. On Fashion-MNIST's first kernel
(784 x 300, batch 32) that is ~115 us instead of ~190 us per step (benchmarks/NOTES.md).

The gemm called is the one NumPy's own matmul calls: the scipy-openblas library bundled with NumPy's wheels, found
beside the installed numpy package. Calling a second BLAS (scipy's) would start a second thread pool that fights
NumPy's for the cores. Where that library is not there (NumPy built against MKL, Accelerate or a system BLAS), or it
fails a one-off check against np.dot, `add_at_b` computes the same sum through NumPy with a temporary.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _find_gemm() -> dict:
    """{dtype: gemm function} from NumPy's bundled scipy-openblas (64-bit integer interface), or {}."""
    root = os.path.dirname(np.__file__)
    patterns = [os.path.join(root, os.pardir, "numpy.libs", "libscipy_openblas64_*"),  # Linux and Windows wheels
                os.path.join(root, ".dylibs", "libscipy_openblas64_*")]  # macOS wheels
    paths = [p for pattern in patterns for p in sorted(glob.glob(pattern))]
    if not paths:
        return {}
    try:
        lib = ctypes.CDLL(paths[0])
        found = {np.dtype(np.float32): lib.scipy_cblas_sgemm64_, np.dtype(np.float64): lib.scipy_cblas_dgemm64_}
    except (OSError, AttributeError):
        return {}
    n, i = ctypes.c_int, ctypes.c_int64
    for dtype, fn in found.items():
        real = ctypes.c_float if dtype == np.float32 else ctypes.c_double
        fn.argtypes = [n, n, n, i, i, i, real, ctypes.c_void_p, i, ctypes.c_void_p, i, real, ctypes.c_void_p, i]
        fn.restype = None
    return found


def _checked(found: dict) -> dict:
    """Keep only the functions that reproduce np.dot on a small product (a wrong guess at the library's interface
    would otherwise go unnoticed)."""
    rng = np.random.default_rng(0)
    good = {}
    for dtype, fn in found.items():
        a, b = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((5, 4)).astype(dtype)
        c = rng.standard_normal((3, 4)).astype(dtype)
        want = c - 0.5 * np.dot(a.T, b)
        fn(_ROW_MAJOR, _TRANS, _NO_TRANS, 3, 4, 5, -0.5, a.ctypes.data, 3, b.ctypes.data, 4, 1.0, c.ctypes.data, 4)
        if np.allclose(c, want, rtol=1e-5, atol=1e-5):
            good[dtype] = fn
    return good


_gemm: dict | None = None  # found on the first call


def add_at_b(c: np.ndarray, a: np.ndarray, b: np.ndarray, alpha: float) -> None:
    """c += alpha * a.T @ b, in place.

    Args:
        c: (m, n) array, updated in place.
        a: (k, m) array; b: (k, n) array, of c's dtype.
        alpha: the scale of the product (-learning_rate for an SGD step).
    """
    global _gemm
    if _gemm is None:
        try:
            _gemm = _checked(_find_gemm())
        except Exception:  # any surprise from a foreign library means: not this library
            _gemm = {}
    fn = _gemm.get(c.dtype)
    if (fn is not None and a.dtype == c.dtype and b.dtype == c.dtype and c.flags.c_contiguous and c.flags.writeable
            and a.flags.c_contiguous and b.flags.c_contiguous and a.ndim == b.ndim == c.ndim == 2 and c.size
            and a.shape[1] == c.shape[0] and b.shape[1] == c.shape[1] and a.shape[0] == b.shape[0]):
        m, n = c.shape
        fn(_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, a.shape[0], alpha, a.ctypes.data, m, b.ctypes.data, n, 1.0,
           c.ctypes.data, n)
        return
    product = np.dot(a.T, b)
    product *= c.dtype.type(alpha)
    c += product
