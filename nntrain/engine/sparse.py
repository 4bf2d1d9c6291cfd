"""MultiHot: a sparse 0/1 matrix in CSR form, so multi-hot text never becomes a dense float matrix.

A 25,000 x 10,000 IMDB multi-hot matrix is 1 GB as float32 but ~12 MB as MultiHot (one int32 per word present).
Dense consumes it directly: forward is a sum of gathered kernel rows, the kernel gradient a scatter-add of rows of dz.

Both products run in scipy.sparse's compiled CSR kernels (engine/kernels.py). NumPy alone has no fast segmented
scatter-add: on an IMDB-shaped batch (512 rows, ~60,000 ones, 16 units) `np.add.at` takes ~10 ms per product,
`np.add.reduceat` over gathered rows ~1.4 ms and a sort-then-reduceat backward ~4.5 ms, against ~0.2 ms each in
scipy (benchmarks/NOTES.md).
"""

from __future__ import annotations

import numpy as np

from nntrain.engine.kernels import csr_matmul, csr_t_matmul


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

    def matmul(self, w: np.ndarray) -> np.ndarray:
        """self @ w for w: (n_cols, units) -> (rows, units) in w's dtype: each row sums its kernel rows."""
        out = np.zeros((len(self), w.shape[1]), dtype=w.dtype)
        if self.nnz:
            csr_matmul(self.indptr, self.indices, self.n_cols, np.ascontiguousarray(w), out)
        return out

    __matmul__ = matmul

    def t_matmul(self, dz: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """self.T @ dz for dz: (rows, units) -> (n_cols, units) in dz's dtype: row i of dz is added to the
        output row of every column that row i of self has a one in. Written into `out` when given (a Dense
        kernel's slot in the flat gradient buffer), with no temporary of the kernel's size."""
        direct = out is not None and out.dtype == dz.dtype and out.flags.c_contiguous
        target = out if direct else np.empty((self.n_cols, dz.shape[1]), dtype=dz.dtype)
        target.fill(0)
        if self.nnz:
            csr_t_matmul(self.indptr, self.indices, self.n_cols, np.ascontiguousarray(dz), target)
        if out is not None and not direct:
            np.copyto(out, target)
        return target if out is None else out
