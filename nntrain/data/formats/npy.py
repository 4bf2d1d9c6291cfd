"""NPY (one array) and NPZ (a zip of named .npy arrays). Object arrays (ragged id sequences) are rebuilt through an
unpickler that admits numpy's array classes and nothing else.

For training a .npy holds a numeric 2-D table whose columns are numbered (data.target: an index); at predict time it
holds the feature columns, or samples of the training shape, and is memory-mapped. An .npz holds arrays by name
(data.features / data.target name them, default x and y).
"""

from __future__ import annotations

import io
import pickle
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from nntrain.data.encoders import target_facts
from nntrain.data.formats.base import (
    Described,
    FileData,
    Format,
    array_input,
    check_file,
    check_rows,
    table_data,
)
from nntrain.data.formats.keyed import Keyed
from nntrain.data.roles import as_list, table_roles
from nntrain.data.tables import Table
from nntrain.errors import DataError
from nntrain.registry import did_you_mean

# Rebuilding a pickled numpy object array (ragged imdb/reuters sequences) needs these globals and nothing else; a
# tampered file that names any other callable (os.system, eval...) is refused instead of executed.
_NUMPY_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays may be stored")


def _read_header(fp) -> tuple[tuple, np.dtype]:
    """(shape, dtype) from an .npy header, leaving `fp` at the start of the data."""
    version = np.lib.format.read_magic(fp)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(fp)
    return tuple(shape), dtype


def _read_npy_stream(fp, where: str) -> np.ndarray:
    """One .npy stream; object arrays go through the numpy-only unpickler."""
    start = fp.tell()
    try:
        return np.lib.format.read_array(fp, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" not in str(exc) and "Object arrays" not in str(exc):
            raise DataError(f"{where}: not a valid .npy array ({exc})") from None
    fp.seek(start)
    _read_header(fp)
    try:
        return _NumpyOnlyUnpickler(fp).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
        raise DataError(f"{where}: cannot read its object array ({exc})") from None


def read_npy(path: Path, mmap: bool = False) -> np.ndarray:
    """A .npy array; `mmap` maps numeric arrays instead of reading them (for chunked prediction)."""
    path = check_file(path)
    try:
        if mmap:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        with open(path, "rb") as fp:
            return _read_npy_stream(fp, str(path))
    except (ValueError, OSError) as exc:
        if mmap:  # object arrays cannot be mapped
            return read_npy(path, mmap=False)
        raise DataError(f"{path}: not a valid .npy file ({exc})") from None


def _npz_members(path: Path, read: Callable) -> dict:
    """name -> read(stream, name) for each .npy member of an .npz archive."""
    path = check_file(path)
    out = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    with archive.open(member) as fp:
                        try:
                            out[member[:-4]] = read(fp, member[:-4])
                        except (ValueError, EOFError) as exc:  # not an .npy stream (bad magic, cut short)
                            raise DataError(f"{path}: member {member} is not a valid .npy array ({exc})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
        # a damaged or truncated zip, an encrypted member or an unsupported compression
        raise DataError(f"{path}: not a readable .npz archive ({exc})") from None
    return out


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of a .npz archive, name -> array."""
    arrays = _npz_members(path, lambda fp, name: _read_npy_stream(io.BytesIO(fp.read()), f"{path}[{name}]"))
    if not arrays:
        raise DataError(f"{path}: the archive holds no arrays")
    return arrays


def npz_shapes(path: Path) -> dict[str, tuple[tuple, np.dtype]]:
    """name -> (shape, dtype) of each array in a .npz, reading only the headers."""
    return _npz_members(path, lambda fp, name: _read_header(fp))


class Npy(Format):
    """One numeric array: a 2-D table of numbered columns for training, feature rows or samples for predict."""

    name, suffixes = "npy", (".npy",)

    def _array(self, path: Path, mmap: bool = False) -> np.ndarray:
        return read_npy(path, mmap)

    def read(self, path, spec, like=None, default_target=None) -> FileData:
        arr = self._array(path)
        if arr.ndim != 2 or arr.dtype.kind not in "biuf":
            raise DataError(
                f"{path}: a training .{self.name} must be a numeric 2-D table (rows, columns) with the target as one "
                f"column (data.target: its index); got shape {arr.shape}, dtype {arr.dtype}. Use .npz with x "
                "and y arrays for other shapes"
            )
        header = [str(i) for i in range(arr.shape[1])]
        table = Table({h: arr[:, i].astype(np.float64) for i, h in enumerate(header)}, str(path))
        return table_data(table, table_roles(spec, header, str(path), default_target), str(path))

    def describe(self, path, spec) -> Described:
        a = self._array(path, mmap=True)
        header = [str(i) for i in range(a.shape[1] if a.ndim == 2 else 0)]
        roles = table_roles(spec, header, str(path))
        outputs = {}
        for n, cols in roles.outputs.items():
            y = np.asarray(a[:, [int(c) for c in as_list(cols)]])
            outputs[n] = target_facts(y if isinstance(cols, list) else y[:, 0])
        return Described({n: (len(cols),) for n, cols in roles.inputs.items()}, outputs)

    def stream(self, path, pre, batch_size) -> Iterator[dict]:
        names = list(pre.inputs)
        if len(names) != 1 and any(pre.inputs[n].source.get("type") != "x_columns" for n in names):
            raise DataError(f"{path}: one .{self.name} array cannot feed {len(names)} inputs; use .npz with {names}")
        a = self._array(path, mmap=True)
        for start in range(0, check_rows(a.shape, str(path)), batch_size):
            chunk = a[start : start + batch_size]
            yield {n: array_input(pre, n, chunk, path) for n in names}


def _check_keys(path: Path, keys: list[str], held: list[str]) -> None:
    """DataError naming the first of `keys` the archive does not hold, the closest name and what it holds."""
    missing = [k for k in keys if k not in held]
    if missing:
        raise DataError(
            f"{path}: no array {missing[0]!r}{did_you_mean(missing[0], held)}; the archive holds: {', '.join(held)} "
            "(set data.features / data.target to choose)"
        )


class Npz(Keyed):
    """Arrays by name in a zip of .npy files; members cannot be mapped, so each is read whole, then chunked."""

    name, suffixes = "npz", (".npz",)

    def _arrays(self, path, keys):
        arrays = read_npz(path)
        _check_keys(path, keys, list(arrays))
        return arrays

    def _shapes(self, path, keys):
        shapes = npz_shapes(path)
        _check_keys(path, keys, list(shapes))
        return shapes

    def _chunks(self, path, keys, batch_size, expected):
        shapes = npz_shapes(path)
        missing = [k for k in keys if k not in shapes]
        if missing:
            raise DataError(
                f"{path}: no array {missing[0]!r}; expected {expected}; the archive holds {', '.join(shapes)}"
            )
        arrays = read_npz(path)
        for start in range(0, check_rows(arrays[keys[0]].shape, f"{path}[{keys[0]}]"), batch_size):
            yield {k: arrays[k][start : start + batch_size] for k in keys}


NPY, NPZ = Npy(), Npz()
