"""RawData: what was read from files or a dataset, before anything is fitted.

Raw inputs come in four kinds, which decide the first preprocessing stage:
    "table":     a Table of named CSV columns (numeric and categorical)
    "array":     a numeric ndarray (rows, ...), e.g. images (rows, 28, 28) uint8
    "sequences": an object ndarray (rows,) of integer id lists (imdb, reuters)
    "text":      an object ndarray (rows,) of str documents (text folders)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nntrain.errors import ShapeError


def object_array(items) -> np.ndarray:
    """(len(items),) object array holding each item as is (numpy would otherwise stack equal-length lists)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def take_rows(value: Any, rows: np.ndarray) -> Any:
    """Rows of a Table, an ndarray or a MultiHot."""
    if hasattr(value, "take") and not isinstance(value, np.ndarray):
        return value.take(rows)
    return value[rows]


def is_sequences(x: Any) -> bool:
    """Whether x is an object array (or list) of integer sequences."""
    return (isinstance(x, np.ndarray) and x.dtype == object) or isinstance(x, list)


def sequence_parts(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """(flat ids int64, lengths int64) of sequences, or of the rows of a 2-D integer array."""
    if isinstance(x, np.ndarray) and x.dtype != object:
        if x.ndim != 2:
            raise ShapeError(f"integer sequences must be 1-D lists or rows of a 2-D array, got shape {x.shape}")
        return x.reshape(-1).astype(np.int64), np.full(len(x), x.shape[1], dtype=np.int64)
    lengths = np.fromiter((len(s) for s in x), dtype=np.int64, count=len(x))
    if len(x) and isinstance(x[0], np.ndarray):
        flat = np.concatenate([np.asarray(s, dtype=np.int64).reshape(-1) for s in x])
    else:
        flat = np.fromiter(itertools.chain.from_iterable(x), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths


@dataclass
class RawSplit:
    """One part of the data (train, validation or test), untransformed.

    Attributes:
        x: input name -> raw input of that input's kind, `rows` long.
        y: output name -> (rows,) or (rows, k) raw targets: numbers, or str labels as an object array.
        rows: (rows,) int64 row numbers in `source`, so a split can be audited.
        source: the file or dataset part the rows come from.
        weights: (rows,) float64 sample weights (data.sample_weight), or None.
    """

    x: dict[str, Any]
    y: dict[str, np.ndarray]
    rows: np.ndarray
    source: str
    weights: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, idx: np.ndarray) -> RawSplit:
        """The rows at positions `idx` of this split (itself when idx is every row in order: no copy)."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == len(self.rows) and (len(idx) == 0 or (idx[0] == 0 and np.all(np.diff(idx) == 1))):
            return self
        return RawSplit(
            {k: take_rows(v, idx) for k, v in self.x.items()},
            {k: v[idx] for k, v in self.y.items()},
            self.rows[idx],
            self.source,
            None if self.weights is None else self.weights[idx],
        )


@dataclass
class RawData:
    """Everything a data spec names, read but not fitted.

    Attributes:
        name: the dataset name or training file.
        train: training rows (validation is chosen from them later unless `validation` is given).
        test: test rows: a test file, a predefined split, or a held-out fraction; or None.
        validation: rows from an explicit validation file, or None.
        kinds: input name -> "table", "array", "sequences" or "text".
        sources: input name -> where it lives in a file: {"columns": [...]} (CSV/NPY), {"key": "x"} (NPZ/HDF5),
            {"text": True} (text folders) or {} (catalogue); read_inputs uses it at predict time.
        class_names: output name -> class names known from the dataset's metadata, or None.
        tasks: output name -> task known from metadata ("binary", "multiclass", "regression"), or None to infer.
        hints: input name -> {"vocab_size": int} and similar facts known from the dataset's reader.
    """

    name: str
    train: RawSplit
    test: RawSplit | None = None
    validation: RawSplit | None = None
    kinds: dict[str, str] = field(default_factory=dict)
    sources: dict[str, dict] = field(default_factory=dict)
    class_names: dict[str, list[str] | None] = field(default_factory=dict)
    tasks: dict[str, str | None] = field(default_factory=dict)
    hints: dict[str, dict] = field(default_factory=dict)

    def stratify_labels(self) -> np.ndarray | None:
        """(train rows,) class labels of the first output when it is a classification target, else None."""
        from nntrain.data.encoders import (
            is_class_label,  # encoders reads tables, which import this module
        )

        name = next(iter(self.train.y))
        y = self.train.y[name]
        task = self.tasks.get(name)
        if task == "regression" or y.ndim != 1:
            return None
        return y if task in ("binary", "multiclass") or is_class_label(y) else None
