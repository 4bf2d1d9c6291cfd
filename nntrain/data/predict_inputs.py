"""read_inputs: new data for `nntrain predict`, read in chunks and preprocessed as in training.

CSV and text files are streamed, NPY files memory-mapped and HDF5 datasets sliced, so memory stays constant in
the file size. NPZ members cannot be mapped: each array is read whole, then chunked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nntrain.data import formats
from nntrain.data.pipeline import Preprocessor
from nntrain.data.tables import Table, iter_csv
from nntrain.errors import DataError


def _describe_inputs(pre: Preprocessor) -> str:
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


def _raw_from_array(pre: Preprocessor, name: str, a: np.ndarray, path: Path) -> Any:
    """A chunk of a numeric array as the raw input `name` expects (a Table for column-trained inputs)."""
    p = pre.inputs[name]
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
        if tuple(a.shape[1:]) != want:
            raise DataError(f"{path}: input {name!r} expects samples of shape {want}, got {tuple(a.shape[1:])}")
    return np.asarray(a)


def _chunks(n: int, batch_size: int) -> range:
    return range(0, n, batch_size)


def read_inputs(path: Path, preprocessor: Preprocessor, batch_size: int = 1024) -> Iterator[Any]:
    """Model inputs from a new file, `batch_size` rows at a time, with the training preprocessing applied.

    Formats: CSV (.csv/.csv.gz: the training feature columns by name, in any order; the target and other
    columns are ignored), NPY (one array: the feature columns, or samples of the training shape), NPZ/HDF5 (the
    training keys, or `x` for a single input), text (.txt: one document per line, for text-trained models).

    Yields:
        What the model takes: float32 / int32 / MultiHot (rows, ...), or a dict input name -> those.

    Raises:
        DataError: missing columns or keys, wrong feature count or sample shape, naming what was expected.
    """
    path = Path(path)
    pre = preprocessor
    if batch_size < 1:
        raise DataError(f"batch_size must be positive, got {batch_size}")
    if not path.is_file():
        raise DataError(f"{path}: {'is a folder, not a file' if path.is_dir() else 'not found'}")
    name = path.name.lower()
    names = list(pre.inputs)

    if name.endswith((".csv", ".csv.gz")):
        not_columns = [n for n in names if pre.inputs[n].source.get("type") != "columns"]
        if not_columns:
            raise DataError(
                f"{path}: this model was not trained on CSV columns; it expects {_describe_inputs(pre)}"
            )
        columns = list(dict.fromkeys(c for n in names for c in pre.inputs[n].source["columns"]))
        kinds = {}
        for n in names:
            kinds.update(pre.inputs[n].encoder.kinds)
        for chunk in iter_csv(path, columns, kinds, batch_size):
            yield pre.transform_x({n: chunk.select(list(pre.inputs[n].source["columns"])) for n in names})
        return

    if name.endswith(".txt"):
        if len(names) != 1 or pre.inputs[names[0]].kind != "text":
            raise DataError(
                f"{path}: text lines need a model trained on text; this one expects {_describe_inputs(pre)}"
            )
        with open(path, encoding="utf-8", errors="replace") as fp:
            batch: list[str] = []
            for line in fp:
                batch.append(line.rstrip("\r\n"))
                if len(batch) == batch_size:
                    yield pre.transform_x(np.array(batch, dtype=object))
                    batch = []
            if batch:
                yield pre.transform_x(np.array(batch, dtype=object))
        return

    if name.endswith(".npy"):
        if len(names) != 1 and any(pre.inputs[n].source.get("type") != "x_columns" for n in names):
            raise DataError(f"{path}: one .npy array cannot feed {len(names)} inputs; use .npz with {names}")
        a = formats.read_npy(path, mmap=True)
        for start in _chunks(len(a), batch_size):
            chunk = a[start : start + batch_size]
            yield pre.transform_x({n: _raw_from_array(pre, n, chunk, path) for n in names})
        return

    if name.endswith((".npz", ".h5", ".hdf5")):
        keys = {}
        for n in names:
            src = pre.inputs[n].source
            single = len(names) == 1 or src.get("type") == "x_columns"
            keys[n] = src["key"] if src.get("type") == "key" else ("x" if single else n)
        if name.endswith(".npz"):
            shapes = formats.npz_shapes(path)
            missing = [k for k in keys.values() if k not in shapes]
            if missing:
                raise DataError(
                    f"{path}: no array {missing[0]!r}; expected {_describe_inputs(pre)}; the archive holds "
                    f"{', '.join(shapes)}"
                )
            arrays = formats.read_npz(path)
            data = {n: arrays[k] for n, k in keys.items()}
            total = len(next(iter(data.values())))
            for start in _chunks(total, batch_size):
                yield pre.transform_x(
                    {n: _raw_from_array(pre, n, a[start : start + batch_size], path) for n, a in data.items()}
                )
            return
        shapes = formats.h5_shapes(path, list(keys.values()))
        total = next(iter(shapes.values()))[0][0]
        iters = {n: formats.iter_h5(path, k, batch_size) for n, k in keys.items()}
        for _ in _chunks(total, batch_size):
            yield pre.transform_x({n: _raw_from_array(pre, n, next(it), path) for n, it in iters.items()})
        return

    raise DataError(f"{path}: cannot predict from {path.suffix!r} files; use .csv, .npy, .npz, .h5 or .txt")
