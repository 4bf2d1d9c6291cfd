"""IDX, the MNIST file format (Fashion-MNIST's files, gzipped or not): a magic number naming the element type,
big-endian dimensions, then the data. Read like a .npy: a numeric 2-D table for training, samples for predict.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from nntrain.data.formats.base import check_file
from nntrain.data.formats.npy import Npy
from nntrain.errors import DataError

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX array in native byte order."""
    path = check_file(path)
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


class Idx(Npy):
    """Keras's Fashion-MNIST files end in -ubyte(.gz); a gzipped file is read whole, never mapped."""

    name, suffixes = "idx", (".idx", ".idx.gz", "-ubyte", "-ubyte.gz")

    def _array(self, path: Path, mmap: bool = False) -> np.ndarray:
        return read_idx(path)


IDX = Idx()
