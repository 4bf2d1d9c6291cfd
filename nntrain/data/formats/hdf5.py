"""HDF5 (.h5, .hdf5): datasets by path inside the file ("x", "group/x"), sliced at predict time, never read whole.

h5py is imported inside the functions, so importing nntrain.data stays fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nntrain.data.formats.base import check_file, check_rows
from nntrain.data.formats.keyed import Keyed
from nntrain.data.raw import object_array
from nntrain.errors import DataError
from nntrain.engine.limits import too_large, unbacked
from nntrain.registry import did_you_mean


def _dataset(f, key: str, path: Path, whole: bool = False):
    """The dataset `key`, its declared shape checked before anything is read: against the bytes it stores, and
    (`whole`: to be read at once) against this machine's memory."""
    import h5py

    if key not in f or not isinstance(f[key], h5py.Dataset):
        names = []
        f.visit(lambda n: names.append(n) if isinstance(f[n], h5py.Dataset) else None)
        what = f"{key!r} is a group, not a dataset" if key in f else f"no dataset {key!r}{did_you_mean(key, names)}"
        raise DataError(f"{path}: {what}; datasets: {', '.join(names)}")
    ds = f[key]
    if h5py.check_vlen_dtype(ds.dtype) is None:  # variable-length values live outside the dataset's storage
        problem = unbacked(ds.shape, ds.dtype, ds.id.get_storage_size())
        problem = problem or (too_large(ds.shape, ds.dtype) if whole else None)
        if problem is not None:
            raise DataError(f"{path}: dataset {key!r} {problem}")
    return ds


def read_h5(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    """The named datasets of an HDF5 file, read whole (byte strings decoded to str)."""
    import h5py

    path = check_file(path)
    try:
        with h5py.File(path, "r") as f:
            out = {}
            for key in keys:
                data = _dataset(f, key, path, whole=True)[()]
                if isinstance(data, np.ndarray) and data.dtype.kind in "SO":
                    data = object_array([v.decode() if isinstance(v, bytes) else v for v in data])
                out[key] = data
            return out
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc})") from None


def h5_shapes(path: Path, keys: list[str]) -> dict[str, tuple[tuple, np.dtype]]:
    """key -> (shape, dtype) of HDF5 datasets without reading them."""
    import h5py

    path = check_file(path)
    try:
        with h5py.File(path, "r") as f:
            shapes = {}
            for k in keys:
                ds = _dataset(f, k, path)
                shapes[k] = (tuple(ds.shape), ds.dtype)
            return shapes
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc})") from None


class Hdf5(Keyed):
    name, suffixes = "hdf5", (".h5", ".hdf5")

    def _arrays(self, path, keys):
        return read_h5(path, keys)

    def _shapes(self, path, keys):
        return h5_shapes(path, keys)

    def _chunks(self, path, keys, batch_size, expected):
        import h5py

        rows = check_rows(h5_shapes(path, keys)[keys[0]][0], f"{path}[{keys[0]}]")
        with h5py.File(path, "r") as f:
            sets = {k: _dataset(f, k, path) for k in keys}
            for start in range(0, rows, batch_size):
                yield {k: ds[start : start + batch_size] for k, ds in sets.items()}


HDF5 = Hdf5()
