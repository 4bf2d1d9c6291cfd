"""What every data format provides (the Format base class), and the pieces several formats share."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from nntrain.data.raw import RawSplit
from nntrain.data.roles import Roles
from nntrain.data.tables import Table, refuse_missing
from nntrain.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from nntrain.data.pipeline import Preprocessor


@dataclass
class FileData:
    """One file read into a RawSplit, with what later files must agree with."""

    split: RawSplit
    kinds: dict[str, str]
    sources: dict[str, dict]
    column_kinds: dict[str, str] = field(default_factory=dict)  # table column -> numeric/categorical
    class_names: dict[str, list[str] | None] = field(default_factory=dict)
    classes: list[str] | None = None  # text folder classes, in label order


class Described(NamedTuple):
    """What `describe` learns from a training file without reading all of it.

    Attributes:
        inputs: input name -> sample shape (None entries where only the data can tell).
        outputs: output name -> (task, n_classes, width, class_names).
        hints: input name -> facts the preprocessing steps use ({"vocab_size": ...}), or None.
    """

    inputs: dict[str, tuple]
    outputs: dict[str, tuple]
    hints: dict[str, dict] | None = None


class Format:
    """One kind of data file, found by how its name ends; it owns reading, describing and streaming that kind.

    Attributes:
        name: the registry name ("csv").
        suffixes: lower-case endings of the file name (".csv", ".csv.gz"); none for a folder.
    """

    name = ""
    suffixes: tuple[str, ...] = ()

    @property
    def shown(self) -> str:
        """How the list of formats names this one."""
        return f"{self.name} ({', '.join(self.suffixes)})"

    def read(self, path: Path, spec: dict, like: FileData | None = None, default_target: str | None = None) -> FileData:
        """A train/test/validation file, read whole into a RawSplit.

        Args:
            path: the file or folder.
            spec: the data spec (target/features/inputs/outputs/classes).
            like: the training file's FileData: a test or validation file is read with its column types and classes.
            default_target: target column when the spec names none (bundled tables).
        """
        raise DataError(f"{path}: {self.name} data cannot be trained on")

    def describe(self, path: Path, spec: dict) -> Described:
        """Input shapes and output facts of a training file, reading as little of it as the format allows."""
        raise DataError(f"{path}: {self.name} data cannot be trained on")

    def stream(self, path: Path, pre: Preprocessor, batch_size: int) -> Iterator[dict[str, Any]]:
        """The inputs of a new file for `nntrain predict`, `batch_size` rows at a time, memory constant in its size.

        Yields:
            input name -> raw input of that input's kind (a Table, an ndarray (rows, ...)), as pre.transform_x takes.
        """
        raise DataError(f"{path}: cannot predict from {self.name} data")


def check_file(path: Path) -> Path:
    """The path, when it is a file; DataError saying it is missing or a folder otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {'is a folder, not a file' if path.is_dir() else 'not found'}")
    return path


def check_rows(shape: tuple, where: str) -> int:
    """The number of rows of an array of `shape`; DataError for a 0-d array (one value, no rows)."""
    if not shape:
        raise DataError(f"{where}: holds a single value (shape ()), not rows of data; expected shape (rows, ...)")
    return int(shape[0])


def table_data(table: Table, roles: Roles, source: str) -> FileData:
    """FileData of a table: each input a Table of its columns, each output one column or a (rows, k) stack."""
    x = {n: table.select(cols, "feature") for n, cols in roles.inputs.items()}
    y = {}
    for c in dict.fromkeys(c for cols in roles.outputs.values() for c in (cols if isinstance(cols, list) else [cols])):
        refuse_missing(table, c, "a row without a label cannot be trained on or scored: drop it from the file")
    for n, cols in roles.outputs.items():
        if isinstance(cols, list):
            part = table.select(cols, "target")
            if any(not part.is_numeric(c) for c in cols):
                raise DataError(f"{source}: a target of several columns must be numeric; {cols} holds text")
            y[n] = np.stack([part.columns[c] for c in cols], axis=1)
        else:
            y[n] = table.columns[cols]
    kinds = {n: "table" for n in x}
    sources = {n: {"type": "columns", "columns": list(cols)} for n, cols in roles.inputs.items()}
    column_kinds = {c: ("numeric" if table.is_numeric(c) else "categorical") for c in table.names}
    rows = np.arange(len(table), dtype=np.int64)
    return FileData(RawSplit(x, y, rows, source, _weights(table, roles.weight)), kinds, sources, column_kinds)


def _weights(table: Table, column: str | None) -> np.ndarray | None:
    """(rows,) float64 sample weights from a numeric column: finite and non-negative (data.sample_weight)."""
    if column is None:
        return None
    if not table.is_numeric(column):
        raise DataError(f"{table.source}: sample weight column {column!r} holds text; expected numbers")
    refuse_missing(table, column, "every row needs a weight: fill them in the file")
    w = np.asarray(table.columns[column], np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{table.source}: {table.where(i)}, column {column!r}: sample weight {w[i]:g} is negative; "
                        "weights must be non-negative")
    return w


def expected_inputs(pre: Preprocessor) -> str:
    """What a trained model's inputs are read from, for messages about a file that does not fit."""
    parts = []
    for name, p in pre.inputs.items():
        src = p.source
        if src.get("type") == "columns":
            parts.append(f"{name}: columns {list(src['columns'])}")
        elif src.get("type") == "key":
            parts.append(f"{name}: array {src['key']!r}")
        elif src.get("type") == "x_columns":
            parts.append(f"{name}: columns {list(src['indices'])} of one array")
        elif p.kind == "text":
            parts.append(f"{name}: text, one document per line")
        else:
            parts.append(f"{name}: {p.kind} of sample shape {tuple(src.get('sample_shape', ()))}")
    return "; ".join(parts)


def array_input(pre: Preprocessor, name: str, a: np.ndarray, path: Path) -> Any:
    """A chunk (rows, ...) of a numeric array as the raw input `name` expects (a Table for column-trained inputs)."""
    p = pre.inputs[name]
    check_rows(a.shape, str(path))
    if p.kind in ("table", "array") and a.dtype.kind not in "biuf":
        raise DataError(f"{path}: input {name!r} expects numbers, got an array of dtype {a.dtype}")
    if p.source.get("type") == "x_columns":  # trained on columns of a catalogue x: take them from the full array
        cols = list(p.source["indices"])
        if a.ndim != 2 or a.shape[1] <= max(cols):
            raise DataError(f"{path}: input {name!r} reads columns {cols} of a 2-D array, got shape {a.shape}")
        a = a[:, cols]
    if p.kind == "table":
        cols = list(p.source["columns"])
        if a.ndim != 2 or a.shape[1] != len(cols):
            raise DataError(
                f"{path}: expected {len(cols)} feature columns {cols} for input {name!r}, got an array of shape "
                f"{a.shape}"
            )
        categorical = [c for c in cols if c in p.encoder.categories]
        if categorical:
            raise DataError(f"{path}: input {name!r} has text columns {categorical}; predict from a CSV file")
        return Table({c: np.asarray(a[:, i], dtype=np.float64) for i, c in enumerate(cols)}, str(path))
    if p.kind == "array":
        want = tuple(p.source.get("sample_shape", a.shape[1:]))
        if tuple(a.shape[1:]) != want and _squeezed(a.shape[1:]) == _squeezed(want):
            # the same images with or without a channel axis of 1: (n, 28, 28, 1) for a model trained on (28, 28)
            a = a.reshape(len(a), *want)
        if tuple(a.shape[1:]) != want:
            raise DataError(f"{path}: input {name!r} expects samples of shape {want}, got {tuple(a.shape[1:])}")
    return np.asarray(a)


def _squeezed(shape) -> tuple:
    return tuple(d for d in shape if d != 1)
