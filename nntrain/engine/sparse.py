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

    __slots__ = ("indptr", "indices", "n_cols", "_row_ids", "_csr")

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n_cols: int):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int32)
        self.n_cols = int(n_cols)
        self._row_ids: np.ndarray | None = None
        self._csr = None  # scipy.sparse view of the same arrays, made on the first product

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
        starts = self.indptr[rows]
        counts = self.indptr[rows + 1] - starts
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        # position j of the output reads self.indices[starts[row] + (j - indptr[row])]
        offsets = np.repeat(starts - indptr[:-1], counts)
        gather = np.arange(indptr[-1], dtype=np.int64) + offsets
        return MultiHot(indptr, self.indices[gather], self.n_cols)

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

    def _scipy(self, dtype):
        """This matrix as a scipy CSR matrix whose stored ones have `dtype` (the arrays are shared, not copied)."""
        if self._csr is None or self._csr.dtype != dtype:
            from scipy.sparse import csr_matrix

            # scipy wants indptr and indices of one integer type; a batch's indptr is short, so narrow it.
            indptr = self.indptr.astype(np.int32) if self.nnz < 2**31 else self.indptr
            indices = self.indices if indptr.dtype == np.int32 else self.indices.astype(np.int64)
            self._csr = csr_matrix((_ones(self.nnz, dtype), indices, indptr), shape=self.shape, copy=False)
        return self._csr

    def matmul(self, w: np.ndarray) -> np.ndarray:
        """self @ w for w: (n_cols, units) -> (rows, units) in w's dtype: each row sums its kernel rows."""
        if not self.nnz:
            return np.zeros((len(self), w.shape[1]), dtype=w.dtype)
        return np.asarray(self._scipy(w.dtype) @ w)

    def t_matmul(self, dz: np.ndarray) -> np.ndarray:
        """self.T @ dz for dz: (rows, units) -> (n_cols, units) in dz's dtype: row i of dz is added to the
        output row of every column that row i of self has a one in."""
        if not self.nnz:
            return np.zeros((self.n_cols, dz.shape[1]), dtype=dz.dtype)
        return np.asarray(self._scipy(dz.dtype).T @ dz)

    def rmatmul_t(self, dz: np.ndarray, out: np.ndarray) -> None:
        """out += self.T @ dz for dz: (rows, units), out: (n_cols, units)."""
        if self.nnz:
            out += self.t_matmul(dz)
