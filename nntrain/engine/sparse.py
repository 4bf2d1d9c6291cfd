"""MultiHot: a sparse 0/1 matrix in CSR form, so multi-hot text never becomes a dense float matrix.

A 25,000 x 10,000 IMDB multi-hot matrix is 1 GB as float32 but ~12 MB as MultiHot (one int32 per word present).
Dense consumes it directly: forward is a row gather of the kernel, the kernel gradient a scatter-add.
"""

from __future__ import annotations

import numpy as np


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
            rows = np.arange(len(self))[rows]
        return self.take(rows)

    def toarray(self, dtype=np.float32) -> np.ndarray:
        out = np.zeros(self.shape, dtype=dtype)
        out[self.row_ids, self.indices] = 1
        return out

    def matmul(self, w: np.ndarray) -> np.ndarray:
        """self @ w for w: (n_cols, units) -> (rows, units), by summing gathered kernel rows."""
        out = np.zeros((len(self), w.shape[1]), dtype=w.dtype)
        if self.nnz:
            np.add.at(out, self.row_ids, w[self.indices])
        return out

    def rmatmul_t(self, dz: np.ndarray, out: np.ndarray) -> None:
        """out += self.T @ dz for dz: (rows, units), out: (n_cols, units), by scatter-adding rows of dz."""
        if self.nnz:
            np.add.at(out, self.indices, dz[self.row_ids])
