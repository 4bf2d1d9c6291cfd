"""NPY (one array) and NPZ (a zip of named .npy arrays). Nothing is ever unpickled: arrays of Python objects are
refused, and every header is checked against the bytes the file holds (and this machine's memory) before an array
is allocated.

For training a .npy holds a numeric 2-D table whose columns are numbered (data.target: an index); at predict time it
holds the feature columns, or samples of the training shape, and is memory-mapped. An .npz holds arrays by name
(data.features / data.target name them, default x and y).
"""

from __future__ import annotations

import hashlib
import io
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
from nntrain.engine.limits import format_bytes, nbytes, too_large
from nntrain.registry import did_you_mean


def _read_header(fp, where: str) -> tuple[tuple, bool, np.dtype]:
    """(shape, fortran order, dtype) from an .npy header, leaving `fp` at the start of the data."""
    try:
        version = np.lib.format.read_magic(fp)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(fp)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise DataError(f"{where}: not a valid .npy array ({exc})") from None
    return tuple(shape), fortran, dtype


def check_header(shape: tuple, dtype: np.dtype, stored: int, where: str, whole: bool = True) -> None:
    """Refuse an .npy header before anything is allocated: Python objects (they would need unpickling), or a shape
    larger than the `stored` bytes of data behind it, or (`whole`: read into memory) than this machine's memory."""
    if dtype.hasobject:
        raise DataError(f"{where}: holds Python objects (dtype {dtype}), which nntrain never reads: reading them "
                        "means unpickling, which can run any code. Save numbers as a numeric array, text as "
                        "fixed-width strings (np.array(texts, dtype=str)), ragged sequences padded to one length")
    need = nbytes(shape, dtype)
    if need > stored:
        raise DataError(f"{where}: its header declares shape {shape} ({dtype}, {format_bytes(need)}), but only "
                        f"{format_bytes(stored)} of data follow it; the file is truncated or damaged")
    problem = too_large(shape, dtype) if whole else None
    if problem is not None:
        raise DataError(f"{where}: cannot be read whole: {problem}")


def _read_npy_stream(fp, stored: int, where: str) -> np.ndarray:
    """One .npy stream of `stored` bytes (header included), its header checked first."""
    shape, _, dtype = _read_header(fp, where)
    check_header(shape, dtype, stored - fp.tell(), where)
    fp.seek(0)
    try:
        return np.lib.format.read_array(fp, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{where}: not a valid .npy array ({exc})") from None


def read_npy(path: Path, mmap: bool = False) -> np.ndarray:
    """A .npy array; `mmap` maps numeric arrays instead of reading them (for chunked prediction)."""
    path = check_file(path)
    try:
        with open(path, "rb") as fp:
            if not mmap:
                return _read_npy_stream(fp, path.stat().st_size, str(path))
            shape, _, dtype = _read_header(fp, str(path))
            check_header(shape, dtype, path.stat().st_size - fp.tell(), str(path), whole=False)
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not a valid .npy file ({exc})") from None


def _npz_members(path: Path, read: Callable) -> dict:
    """name -> read(stream, uncompressed size, name) for each .npy member of an .npz archive."""
    path = check_file(path)
    out = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".npy"):
                    with archive.open(info) as fp:
                        try:
                            out[info.filename[:-4]] = read(fp, info.file_size, info.filename[:-4])
                        except (ValueError, EOFError) as exc:  # not an .npy stream (bad magic, cut short)
                            raise DataError(f"{path}: member {info.filename} is not a valid .npy array ({exc})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
        # a damaged or truncated zip, an encrypted member or an unsupported compression
        raise DataError(f"{path}: not a readable .npz archive ({exc})") from None
    return out


def read_npz(path: Path, sha256: str | None = None) -> dict[str, np.ndarray]:
    """Every array of a .npz archive, name -> array.

    Args:
        sha256: the archive's pinned hash (a Keras catalogue file): only bytes with exactly this hash may hold
            object arrays (Keras stores imdb's and reuters' ragged sequences pickled); they are read from the same
            bytes that were hashed. No other archive is ever unpickled.
    """
    if sha256 is not None:
        return _read_pinned(check_file(path), sha256)
    arrays = _npz_members(path, lambda fp, size, name: _read_npy_stream(fp, size, f"{path}[{name}]"))
    if not arrays:
        raise DataError(f"{path}: the archive holds no arrays")
    return arrays


def _read_pinned(path: Path, sha256: str) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256.lower():
        raise DataError(f"{path}: its SHA-256 is not the one pinned for it; delete the file to download it again")
    with np.load(io.BytesIO(data), allow_pickle=True) as archive:  # noqa: S301 - bytes of a pinned hash only
        return {name: archive[name] for name in archive.files}


def npz_shapes(path: Path) -> dict[str, tuple[tuple, np.dtype]]:
    """name -> (shape, dtype) of each array in a .npz, reading only the headers (checked as `check_header` does,
    except against memory: a shape alone allocates nothing)."""

    def header(fp, size, name):
        where = f"{path}[{name}]"
        shape, _, dtype = _read_header(fp, where)
        check_header(shape, dtype, size - fp.tell(), where, whole=False)
        return shape, dtype

    return _npz_members(path, header)


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
