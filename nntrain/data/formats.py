"""Array file formats: NPY, NPZ (object arrays through a restricted unpickler), HDF5, IDX (MNIST), text folders.

h5py is imported inside the functions that need it, so importing nntrain.data stays fast.
"""

from __future__ import annotations

import gzip
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from nntrain.data.raw import object_array
from nntrain.errors import DataError

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


def _read_npy_stream(fp, where: str) -> np.ndarray:
    """One .npy stream; object arrays go through the numpy-only unpickler."""
    start = fp.tell()
    try:
        return np.lib.format.read_array(fp, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" not in str(exc) and "Object arrays" not in str(exc):
            raise DataError(f"{where}: not a valid .npy array ({exc})") from None
    fp.seek(start)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        np.lib.format.read_array_header_1_0(fp)
    else:
        np.lib.format.read_array_header_2_0(fp)
    try:
        return _NumpyOnlyUnpickler(fp).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
        raise DataError(f"{where}: cannot read its object array ({exc})") from None


def _check_file(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {'is a folder, not a file' if path.is_dir() else 'not found'}")
    return path


def read_npy(path: Path, mmap: bool = False) -> np.ndarray:
    """A .npy array; `mmap` maps numeric arrays instead of reading them (for chunked prediction)."""
    path = _check_file(path)
    try:
        if mmap:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        with open(path, "rb") as fp:
            return _read_npy_stream(fp, str(path))
    except (ValueError, OSError) as exc:
        if mmap:  # object arrays cannot be mapped
            return read_npy(path, mmap=False)
        raise DataError(f"{path}: not a valid .npy file ({exc})") from None


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of a .npz archive, name -> array."""
    path = _check_file(path)
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    with archive.open(member) as raw:
                        arrays[member[:-4]] = _read_npy_stream(io.BytesIO(raw.read()), f"{path}[{member[:-4]}]")
    except zipfile.BadZipFile:
        raise DataError(f"{path}: not a valid .npz archive (zip)") from None
    if not arrays:
        raise DataError(f"{path}: the archive holds no arrays")
    return arrays


def npz_shapes(path: Path) -> dict[str, tuple[tuple, np.dtype]]:
    """name -> (shape, dtype) of each array in a .npz, reading only the headers."""
    path = _check_file(path)
    shapes = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    with archive.open(member) as fp:
                        version = np.lib.format.read_magic(fp)
                        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else (
                            np.lib.format.read_array_header_2_0)
                        shape, _, dtype = read(fp)
                        shapes[member[:-4]] = (tuple(shape), dtype)
    except zipfile.BadZipFile:
        raise DataError(f"{path}: not a valid .npz archive (zip)") from None
    return shapes


def _h5_dataset(f, key: str, path: Path):
    if key not in f:
        import h5py

        names = []
        f.visit(lambda n: names.append(n) if isinstance(f[n], h5py.Dataset) else None)
        from nntrain.registry import did_you_mean

        raise DataError(f"{path}: no dataset {key!r}{did_you_mean(key, names)}; datasets: {', '.join(names)}")
    return f[key]


def read_h5(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    """The named datasets of an HDF5 file, read whole."""
    import h5py

    path = _check_file(path)
    try:
        with h5py.File(path, "r") as f:
            out = {}
            for key in keys:
                data = _h5_dataset(f, key, path)[()]
                if isinstance(data, np.ndarray) and data.dtype.kind in "SO":
                    data = object_array([v.decode() if isinstance(v, bytes) else v for v in data])
                out[key] = data
            return out
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc})") from None


def h5_shapes(path: Path, keys: list[str]) -> dict[str, tuple[tuple, np.dtype]]:
    """key -> (shape, dtype) of HDF5 datasets without reading them."""
    import h5py

    path = _check_file(path)
    try:
        with h5py.File(path, "r") as f:
            return {k: (tuple(_h5_dataset(f, k, path).shape), _h5_dataset(f, k, path).dtype) for k in keys}
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc})") from None


def iter_h5(path: Path, key: str, chunk_rows: int):
    """Row chunks of one HDF5 dataset (constant memory)."""
    import h5py

    path = _check_file(path)
    with h5py.File(path, "r") as f:
        ds = _h5_dataset(f, key, path)
        for start in range(0, ds.shape[0], chunk_rows):
            yield ds[start : start + chunk_rows]


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (the MNIST file format), gzipped or not: header magic, big-endian dims, then the data."""
    path = _check_file(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fp:
            data = fp.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {data[:4].hex()})")
    ndim = data[3]
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - offset != expected:
        raise DataError(f"{path}: IDX header says {dims} but the file holds {len(data) - offset} data bytes")
    return np.frombuffer(data, dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))


def text_classes(folder: Path, classes: list[str] | None = None) -> list[str]:
    """The class sub-folders of a text folder: `classes` (checked), or every sub-folder with .txt files, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: {'is a file, not a folder' if folder.exists() else 'not found'}")
    found = sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.txt")))
    if classes is None:
        if len(found) < 2:
            raise DataError(
                f"{folder}: a text folder needs one sub-folder of .txt files per class (at least 2), found {found}"
            )
        return found
    for c in classes:
        if not (folder / c).is_dir():
            from nntrain.registry import did_you_mean

            raise DataError(f"{folder}: no class folder {c!r}{did_you_mean(c, found)}; sub-folders: {found}")
    return list(classes)


def read_text_folder(folder: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Documents of a class-per-sub-folder text folder (aclImdb layout).

    Returns:
        docs: (rows,) object array of str, classes in order, files sorted by name within a class.
        labels: (rows,) int64 class index (position in `classes`).
    """
    docs, labels = [], []
    for label, name in enumerate(classes):
        for f in sorted((Path(folder) / name).glob("*.txt")):
            docs.append(f.read_text(encoding="utf-8", errors="replace"))
            labels.append(label)
    if not docs:
        raise DataError(f"{folder}: no .txt files in the class folders {classes}")
    return object_array(docs), np.asarray(labels, dtype=np.int64)


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
