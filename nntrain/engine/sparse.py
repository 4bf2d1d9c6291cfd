"""MultiHot: a sparse 0/1 matrix in CSR form, so multi-hot text never becomes a dense float matrix.

A 25,000 x 10,000 IMDB multi-hot matrix is 1 GB as float32 but ~12 MB as MultiHot (one int32 per word present).
Dense consumes it directly: forward is a sum of gathered kernel rows, the kernel gradient a scatter-add of rows of dz.

Both products run in scipy.sparse's compiled CSR kernels. NumPy alone has no fast segmented scatter-add: on an
IMDB-shaped batch (512 rows, ~60,000 ones, 16 units) `np.add.at` takes ~10 ms per product, `np.add.reduceat` over
gathered rows ~1.4 ms and a sort-then-reduceat backward ~4.5 ms, against ~0.2 ms each in scipy (benchmarks/NOTES.md).
scipy is imported on the first product only, so programs that never train on multi-hot data do not pay its ~0.2 s
import.
"""

from __future__ import annotations

import numpy as np

from nntrain.engine.layer import ones as _ones


class MultiHot:
    """A (rows, n_cols) matrix of zeros and ones, storing only where the ones are.

    Attributes:
        indptr: (rows + 1,) int64; row i's column indices are indices[indptr[i]:indptr[i + 1]].
        indices: (nnz,) int32 column indices, unique within a row.
        n_cols: width of the dense matrix.
    """

    __slots__ = ("indptr", "indices", "n_cols", "_row_ids")

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n_cols: int):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int32)
        self.n_cols = int(n_cols)
        self._row_ids: np.ndarray | None = None

    @classmethod
    def from_sequences(cls, sequences, n_cols: int) -> "MultiHot":
        """Rows from integer sequences (repeats collapse to one); ids >= n_cols are dropped, like Keras's
        `vectorize_sequences` with a `num_words` vocabulary."""
        rows = [np.unique(np.asarray(s, dtype=np.int64)) for s in sequences]
        rows = [r[(r >= 0) & (r < n_cols)] for r in rows]
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = np.concatenate(rows) if rows else np.zeros(0, np.int32)
        return cls(indptr, indices, n_cols)

    @classmethod
    def from_dense(cls, x: np.ndarray) -> "MultiHot":
        x = np.asarray(x)
        rows, cols = np.nonzero(x)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=x.shape[0]))])
        return cls(indptr, cols, x.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.indptr) - 1, self.n_cols)

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def row_ids(self) -> np.ndarray:
        """(nnz,) the row of each stored one."""
        if self._row_ids is None:
            self._row_ids = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.indptr))
        return self._row_ids

    def take(self, rows: np.ndarray) -> "MultiHot":
        """The sub-matrix of the given rows (vectorized, no loop over rows)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.indptr.take(rows)
        counts = self.indptr.take(rows + 1)
        counts -= starts
        indptr = np.empty(len(rows) + 1, dtype=np.int64)
        indptr[0] = 0
        np.cumsum(counts, out=indptr[1:])
        # position j of the output reads self.indices[starts[row] + (j - indptr[row])]
        starts -= indptr[:-1]
        gather = np.repeat(starts, counts)
        gather += np.arange(indptr[-1], dtype=np.int64)
        return MultiHot(indptr, self.indices.take(gather), self.n_cols)

    def __getitem__(self, rows) -> "MultiHot":
        if isinstance(rows, slice):
            start, stop, step = rows.indices(len(self))
            if step != 1:
                return self.take(np.arange(start, stop, step))
            stop = max(start, stop)
            # a run of rows is a slice of the arrays: no copy (how validation batches are cut)
            lo, hi = self.indptr[start], self.indptr[stop]
            return MultiHot(self.indptr[start:stop + 1] - lo, self.indices[lo:hi], self.n_cols)
        return self.take(rows)

    def toarray(self, dtype=np.float32) -> np.ndarray:
        out = np.zeros(self.shape, dtype=dtype)
        out[self.row_ids, self.indices] = 1
        return out

    def _kernel_arrays(self, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, indices, data) as scipy's kernels take them: one integer type for both index arrays, and the
        stored ones in `dtype` (a shared read-only vector, not a copy)."""
        if self.nnz < 2**31:
            return self.indptr.astype(np.int32), self.indices, _ones(self.nnz, dtype)
        return self.indptr, self.indices.astype(np.int64), _ones(self.nnz, dtype)

    def matmul(self, w: np.ndarray) -> np.ndarray:
        """self @ w for w: (n_cols, units) -> (rows, units) in w's dtype: each row sums its kernel rows."""
        out = np.zeros((len(self), w.shape[1]), dtype=w.dtype)
        if self.nnz:
            _products().csr(self, np.ascontiguousarray(w), out)
        return out

    def t_matmul(self, dz: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """self.T @ dz for dz: (rows, units) -> (n_cols, units) in dz's dtype: row i of dz is added to the
        output row of every column that row i of self has a one in. Written into `out` when given (a Dense
        kernel's slot in the flat gradient buffer), with no temporary of the kernel's size."""
        direct = out is not None and out.dtype == dz.dtype and out.flags.c_contiguous
        target = out if direct else np.empty((self.n_cols, dz.shape[1]), dtype=dz.dtype)
        target.fill(0)
        if self.nnz:
            _products().csc(self, np.ascontiguousarray(dz), target)
        if out is not None and not direct:
            np.copyto(out, target)
        return target if out is None else out


class _Products:
    """The two multi-hot products, run by scipy.sparse's compiled CSR kernels.

    The kernels are called directly (`csr_matvecs` for x @ w, `csc_matvecs` on the same arrays for x.T @ dz: a
    CSR matrix read as CSC is its transpose): building a `csr_matrix` around each batch and going through its `@`
    cost ~60 us of checks a product, a quarter of a product's time on an IMDB-shaped batch. Both kernels add
    into their output, which the caller zeroes. Should a scipy release move these private kernels, the public
    `csr_matrix` product is used instead (same results, slower).
    """

    def __init__(self):
        try:
            from scipy.sparse import _sparsetools

            self._csr_matvecs, self._csc_matvecs = _sparsetools.csr_matvecs, _sparsetools.csc_matvecs
        except (ImportError, AttributeError):  # pragma: no cover - depends on the installed scipy
            self._csr_matvecs = self._csc_matvecs = None

    def csr(self, x: MultiHot, w: np.ndarray, out: np.ndarray) -> None:
        """out += x @ w; out is C-contiguous and of w's dtype."""
        indptr, indices, data = x._kernel_arrays(w.dtype)
        if self._csr_matvecs is None:
            out += self._matrix(x, indptr, indices, data) @ w
        else:
            self._csr_matvecs(len(x), x.n_cols, w.shape[1], indptr, indices, data, w.reshape(-1),
                              out.reshape(-1))

    def csc(self, x: MultiHot, dz: np.ndarray, out: np.ndarray) -> None:
        """out += x.T @ dz; out is C-contiguous and of dz's dtype."""
        indptr, indices, data = x._kernel_arrays(dz.dtype)
        if self._csc_matvecs is None:
            out += self._matrix(x, indptr, indices, data).T @ dz
        else:
            self._csc_matvecs(x.n_cols, len(x), dz.shape[1], indptr, indices, data, dz.reshape(-1),
                              out.reshape(-1))

    @staticmethod
    def _matrix(x: MultiHot, indptr, indices, data):
        from scipy.sparse import csr_matrix

        return csr_matrix((data, indices, indptr), shape=x.shape, copy=False)


_PRODUCTS: _Products | None = None


def _products() -> _Products:
    """The product kernels, made on first use: scipy's ~0.2 s import is paid only by multi-hot training."""
    global _PRODUCTS
    if _PRODUCTS is None:
        _PRODUCTS = _Products()
    return _PRODUCTS
