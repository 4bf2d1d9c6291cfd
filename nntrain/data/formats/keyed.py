"""Files that hold arrays by name (NPZ, HDF5): data.features / data.target name them (default x and y).

A subclass says how to get whole arrays, their shapes, and row chunks; reading, describing and streaming are the
same for every such format.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nntrain.data.encoders import target_facts
from nntrain.data.formats.base import (
    Described,
    FileData,
    Format,
    array_input,
    check_rows,
    expected_inputs,
)
from nntrain.data.raw import RawSplit
from nntrain.data.roles import key_roles
from nntrain.errors import DataError


def array_kind(a: np.ndarray) -> str:
    """'array' for numbers, 'text' for strings, 'sequences' for ragged integer lists."""
    if a.dtype.kind in "biuf":
        return "array"
    if a.dtype.kind in "US":
        return "text"
    if a.dtype == object:
        first = next((v for v in a.reshape(-1) if v is not None), None)
        return "text" if isinstance(first, (str, bytes)) else "sequences"
    raise DataError(f"arrays of dtype {a.dtype} are not supported")


class Keyed(Format):
    """Arrays by name; subclasses implement _arrays, _shapes and _chunks."""

    def _arrays(self, path: Path, keys: list[str]) -> dict[str, np.ndarray]:
        """name -> whole array, holding at least `keys` (a missing one raises DataError)."""
        raise NotImplementedError

    def _shapes(self, path: Path, keys: list[str]) -> dict[str, tuple[tuple, np.dtype]]:
        """name -> (shape, dtype) of at least `keys`, without reading the data."""
        raise NotImplementedError

    def _chunks(self, path: Path, keys: list[str], batch_size: int, expected: str) -> Iterator[dict[str, np.ndarray]]:
        """key -> the next `batch_size` rows of that array; `expected` describes the model's inputs for errors."""
        raise NotImplementedError

    def read(self, path, spec, like=None, default_target=None) -> FileData:
        source = str(path)
        roles = key_roles(spec, source)
        keys = roles.columns()
        arrays = self._arrays(path, keys)
        lengths = {k: check_rows(np.shape(arrays[k]), f"{path}[{k}]") for k in keys}
        x = {n: arrays[k] for n, k in roles.inputs.items()}
        y = {n: np.asarray(arrays[k]) for n, k in roles.outputs.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"{path}: arrays have different numbers of rows: {lengths}")
        kinds = {n: array_kind(np.asarray(a)) for n, a in x.items()}
        x = {n: (a.astype(object) if kinds[n] == "text" else a) for n, a in x.items()}
        sources = {n: {"type": "key", "key": k} for n, k in roles.inputs.items()}
        rows = np.arange(len(next(iter(x.values()))), dtype=np.int64)
        return FileData(RawSplit(x, y, rows, source), kinds, sources)

    def describe(self, path, spec) -> Described:
        """Input shapes from the headers; the targets are read for their classes, the feature arrays never are."""
        roles = key_roles(spec, str(path))
        shapes = self._shapes(path, roles.columns())
        targets = self._arrays(path, list(roles.outputs.values()))
        inputs = {}
        for n, k in roles.inputs.items():
            shape, dtype = shapes[k]
            check_rows(shape, f"{path}[{k}]")
            inputs[n] = tuple(shape[1:]) if np.dtype(dtype).kind in "biuf" else (None,)  # ragged sequences: unknown
        return Described(inputs, {n: target_facts(targets[k]) for n, k in roles.outputs.items()})

    def stream(self, path, pre, batch_size) -> Iterator[dict]:
        """The training keys, or `x` for a single input (or columns of a catalogue x)."""
        names = list(pre.inputs)
        keys = {}
        for n in names:
            src = pre.inputs[n].source
            single = len(names) == 1 or src.get("type") == "x_columns"
            keys[n] = src["key"] if src.get("type") == "key" else ("x" if single else n)
        for chunk in self._chunks(path, list(dict.fromkeys(keys.values())), batch_size, expected_inputs(pre)):
            yield {n: array_input(pre, n, chunk[k], path) for n, k in keys.items()}
