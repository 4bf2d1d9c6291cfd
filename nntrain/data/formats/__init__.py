"""The data file formats, in one registry: each reads a training file (read), tells its shapes without reading it
all (describe) and feeds `nntrain predict` in chunks (stream). A file's format is found from how its name ends.

    csv, tsv      delimited.py  a header line, then rows (.gz too)
    npy, idx      npy.py, idx.py  one numeric array
    npz, hdf5     npy.py, hdf5.py  arrays by name (keyed.py holds what they share)
    text_folder   text.py  one sub-folder of .txt documents per class
    text_lines    text.py  one document per line (predict only)
    image         image.py  one .png/.jpg... image per file, with Pillow (predict only)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nntrain.data.formats.base import FileData, Format, check_file
from nntrain.data.formats.delimited import CSV, TSV
from nntrain.data.formats.hdf5 import HDF5
from nntrain.data.formats.idx import IDX
from nntrain.data.formats.image import IMAGE
from nntrain.data.formats.npy import NPY, NPZ
from nntrain.data.formats.text import TEXT_FOLDER, TEXT_LINES
from nntrain.errors import DataError
from nntrain.registry import Registry, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from nntrain.data.pipeline import Preprocessor

FORMATS = Registry("data format")
for _format in (CSV, TSV, NPY, NPZ, HDF5, IDX, TEXT_FOLDER, TEXT_LINES, IMAGE):
    FORMATS.register(_format.name)(_format)


def format_of(path: Path) -> Format:
    """The format of a file from how its name ends (any case), or the text-folder format for a folder.

    Raises:
        DataError: the path does not exist, or no format owns its suffix (listing the formats, closest first).
    """
    path = Path(path)
    if path.is_dir():
        return TEXT_FOLDER
    name = path.name.lower()
    formats = [FORMATS.get(n) for n in FORMATS.names()]
    for fmt in formats:
        if fmt.suffixes and name.endswith(fmt.suffixes):
            return fmt
    if not path.exists():
        raise DataError(f"{path}: not found")
    suffixes = [s for fmt in formats for s in fmt.suffixes]
    raise DataError(
        f"{path}: unknown data format {path.suffix!r}{did_you_mean(path.suffix, suffixes)}; the formats: "
        + ", ".join(fmt.shown for fmt in formats)
    )


def read_file(path: Path, spec: dict, like: FileData | None = None, default_target: str | None = None) -> FileData:
    """Read one train/test/validation file (or text folder) whole into a RawSplit.

    Args:
        path: the file or text folder.
        spec: the data spec (target/features/inputs/outputs/classes).
        like: the training file's FileData: a test or validation file must have the same layout and is read with
            the same column types and classes.
        default_target: target column when the spec names none (bundled tables).
    """
    path = Path(path)
    data = format_of(path).read(path, spec, like, default_target)
    if like is not None:
        _check_like(data, like)
    return data


def _check_like(data: FileData, train: FileData) -> None:
    """A test/validation file must provide the training file's inputs, outputs and kinds."""
    if set(data.split.x) != set(train.split.x) or set(data.split.y) != set(train.split.y):
        raise DataError(
            f"{data.split.source}: provides inputs {list(data.split.x)} and outputs {list(data.split.y)}, but the "
            f"training data has {list(train.split.x)} and {list(train.split.y)}"
        )
    for name, kind in train.kinds.items():
        if data.kinds[name] != kind:
            raise DataError(f"{data.split.source}: input {name!r} holds {data.kinds[name]} data; training had {kind}")
        a, b = data.split.x[name], train.split.x[name]
        if isinstance(a, np.ndarray) and kind == "array" and a.shape[1:] != b.shape[1:]:
            raise DataError(
                f"{data.split.source}: input {name!r} has samples of shape {a.shape[1:]}; training had {b.shape[1:]}"
            )


def read_inputs(path: Path, preprocessor: Preprocessor, batch_size: int = 1024) -> Iterator[Any]:
    """Model inputs from a new file for `nntrain predict`, `batch_size` rows at a time, preprocessed as in training.

    Delimited and text files are streamed, NPY files memory-mapped and HDF5 datasets sliced, so memory stays
    constant in the file size (NPZ members cannot be mapped: each array is read whole, then chunked). What each
    format takes: CSV/TSV the training feature columns by name, in any order; NPY/IDX one array of the feature
    columns or of samples of the training shape; NPZ/HDF5 the training keys, or `x` for a single input; .txt one
    document per line, for text-trained models.

    Yields:
        What the model takes: float32 / int32 / MultiHot (rows, ...), or a dict input name -> those.

    Raises:
        DataError: missing columns or keys, wrong feature count or sample shape, naming what was expected.
    """
    path = Path(path)
    if batch_size < 1:
        raise DataError(f"batch_size must be positive, got {batch_size}")
    check_file(path)
    for raw in format_of(path).stream(path, preprocessor, batch_size):
        yield preprocessor.transform_x(raw)
    preprocessor.warn_unseen()  # categories the training rows never had, counted over the whole file
