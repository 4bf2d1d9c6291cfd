"""Optional speed-ups, in one place, each beside its plain twin that computes the same thing.

Nothing else in the engine calls a foreign library: layers and optimizers call the functions here, which take the
fast path when it is there and the twin otherwise. Tests run both and compare them (tests/test_kernels.py).

1. `add_at_b`: c += alpha * a.T @ b in ONE matrix product. The optimizer uses it for plain SGD on a large kernel,
   `kernel -= lr * x.T @ dz`: BLAS gemm computes C = alpha * op(A) @ B + beta * C, and with beta = 1 the kernel is
   updated where the product is written, so the gradient never exists (NumPy's matmul always writes a fresh result:
   the product plus two passes over a kernel-sized gradient). On Fashion-MNIST's first kernel (784 x 300, batch 32)
   ~115 us instead of ~190 us a step (benchmarks/NOTES.md). Below FUSED_STEP_FROM weights the call costs more than
   the passes it saves. The gemm is the one NumPy's own matmul calls: the scipy-openblas library bundled with
   NumPy's wheels, through ctypes (a second BLAS, scipy's, would start a second thread pool that fights NumPy's for
   the cores). Twin, where that library is missing (NumPy built on MKL, Accelerate, a system BLAS) or fails a
   one-off check against np.dot: `add_at_b_numpy`, the product through NumPy with a temporary.
2. `csr_matmul` / `csr_t_matmul`: products of a 0/1 matrix in CSR form (engine/sparse.py's MultiHot) with a dense
   one, in scipy.sparse's compiled kernels called directly (`csr_matvecs`, and `csc_matvecs` on the same arrays for
   the transpose: a CSR matrix read as CSC is its transpose). Building a `csr_matrix` around each batch and going
   through its `@` costs ~60 us of checks a product, a quarter of a product on an IMDB-shaped batch. Twin, should a
   scipy release move these private kernels: the public `csr_matrix` product (same sums, slower). scipy is imported
   on the first product only: programs that never train on multi-hot data do not pay its ~0.2 s import.
3. `gate_sigmoid`: sigmoid for the gates of recurrent layers, which run it at every step: as 0.5 + 0.5 * tanh(z / 2)
   in three in-place passes, where the stable `ops.sigmoid` (abs, exp, where, two divisions) costs ~4x as much on a
   (128, 128) gate block. The same function; twin: `ops.sigmoid` (they agree to float rounding, tested).
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

import numpy as np

FUSED_STEP_FROM = 1 << 16  # kernel weights from which `add_at_b` beats a gradient plus an optimizer pass

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_ONES: dict = {}  # dtype -> a read-only vector of ones, grown as needed


def ones(n: int, dtype) -> np.ndarray:
    """A read-only (n,) vector of ones, shared: for sums written as products (ones @ dz is one BLAS call, several
    times faster than dz.sum(axis=0) on a batch) and as the stored values of 0/1 sparse matrices."""
    dtype = np.dtype(dtype)
    vec = _ONES.get(dtype)
    if vec is None or len(vec) < n:
        vec = np.ones(max(n, 64, 2 * len(vec) if vec is not None else 0), dtype)
        vec.flags.writeable = False
        _ONES[dtype] = vec
    return vec[:n]


# --- 1. c += alpha * a.T @ b through NumPy's bundled BLAS ------------------------------------------------------------


@functools.cache
def _bundled_gemm() -> dict:
    """{dtype: cblas gemm} from NumPy's bundled scipy-openblas (64-bit integer interface), checked; or {}."""
    try:
        return _checked(_find_gemm())
    except Exception:  # any surprise from a foreign library means: not this library
        return {}


def _find_gemm() -> dict:
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


def add_at_b(c: np.ndarray, a: np.ndarray, b: np.ndarray, alpha: float) -> None:
    """c += alpha * a.T @ b, in place, in one gemm where NumPy's bundled BLAS is there (else `add_at_b_numpy`).

    Args:
        c: (m, n) array, updated in place.
        a: (k, m) array; b: (k, n) array, of c's dtype.
        alpha: the scale of the product (-learning_rate for an SGD step).
    """
    fn = _bundled_gemm().get(c.dtype)
    if (fn is None or a.dtype != c.dtype or b.dtype != c.dtype or not c.flags.c_contiguous or not c.flags.writeable
            or not a.flags.c_contiguous or not b.flags.c_contiguous or not a.ndim == b.ndim == c.ndim == 2
            or not c.size or a.shape[1] != c.shape[0] or b.shape[1] != c.shape[1] or a.shape[0] != b.shape[0]):
        add_at_b_numpy(c, a, b, alpha)
        return
    m, n = c.shape
    fn(_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, a.shape[0], alpha, a.ctypes.data, m, b.ctypes.data, n, 1.0,
       c.ctypes.data, n)


def add_at_b_numpy(c: np.ndarray, a: np.ndarray, b: np.ndarray, alpha: float) -> None:
    """`add_at_b`'s twin: the product in a temporary, scaled, added (the bits of a gradient-then-SGD step)."""
    product = np.dot(a.T, b)
    product *= c.dtype.type(alpha)
    c += product


# --- 2. 0/1 CSR matrix times dense, in scipy's compiled kernels -------------------------------------------------------


@functools.cache
def _scipy_csr_kernels() -> tuple | None:
    """(csr_matvecs, csc_matvecs) from scipy's private kernels, or None where a scipy release moved them."""
    try:
        from scipy.sparse import _sparsetools

        return _sparsetools.csr_matvecs, _sparsetools.csc_matvecs
    except (ImportError, AttributeError):
        return None


def _csr_arrays(indptr: np.ndarray, indices: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, data) as scipy's kernels take them: one integer type for both index arrays, and the
    stored ones in `dtype` (a shared read-only vector, not a copy)."""
    nnz = int(indptr[-1])
    if nnz < 2**31:
        return indptr.astype(np.int32), indices.astype(np.int32, copy=False), ones(nnz, dtype)
    return indptr.astype(np.int64, copy=False), indices.astype(np.int64), ones(nnz, dtype)


def csr_matmul(indptr: np.ndarray, indices: np.ndarray, n_cols: int, w: np.ndarray, out: np.ndarray) -> None:
    """out += X @ w, for X the (rows, n_cols) 0/1 matrix whose row i has ones at indices[indptr[i]:indptr[i + 1]].

    Args:
        w: (n_cols, units) C-contiguous; out: (rows, units) C-contiguous, of w's dtype.
    """
    _csr_product(indptr, indices, n_cols, w, out, transpose=False)


def csr_t_matmul(indptr: np.ndarray, indices: np.ndarray, n_cols: int, dz: np.ndarray, out: np.ndarray) -> None:
    """out += X.T @ dz, for X as in `csr_matmul`: row i of dz is added to every row of out that X's row i names.

    Args:
        dz: (rows, units) C-contiguous; out: (n_cols, units) C-contiguous, of dz's dtype.
    """
    _csr_product(indptr, indices, n_cols, dz, out, transpose=True)


def _csr_product(indptr, indices, n_cols: int, dense: np.ndarray, out: np.ndarray, transpose: bool) -> None:
    indptr, indices, data = _csr_arrays(indptr, indices, dense.dtype)
    rows, units = len(indptr) - 1, dense.shape[1]
    fast = _scipy_csr_kernels()
    if fast is None:
        matrix = _csr_matrix(indptr, indices, data, n_cols)
        out += (matrix.T if transpose else matrix) @ dense
    elif transpose:  # the CSR arrays read as a CSC matrix are X.T
        fast[1](n_cols, rows, units, indptr, indices, data, dense.reshape(-1), out.reshape(-1))
    else:
        fast[0](rows, n_cols, units, indptr, indices, data, dense.reshape(-1), out.reshape(-1))


def _csr_matrix(indptr, indices, data, n_cols: int):
    """The twin of both products: scipy's public sparse matrix around the same arrays."""
    from scipy.sparse import csr_matrix

    return csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, n_cols), copy=False)


def gate_sigmoid(z: np.ndarray) -> np.ndarray:
    """sigmoid(z) = 0.5 + 0.5 * tanh(z / 2), stable for any z, in z's dtype; a new array. Twin: ops.sigmoid.

    Args:
        z: array of any shape, floating point.
    """
    y = np.multiply(z, z.dtype.type(0.5))
    np.tanh(y, out=y)
    y *= y.dtype.type(0.5)
    y += y.dtype.type(0.5)
    return y
