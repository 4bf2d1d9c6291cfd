"""The fast path of read_table: pandas' C parser, for the files it reads exactly as the reference reader would.

pandas is an optional extra (`pip install nntrain[data]`). `read` returns None, and the csv-module reader in
tables.py reads the file instead, whenever the result could differ from that reader's or the file has a fault to
report: a parser error (ragged rows, an unbalanced quote, text that is not UTF-8, a damaged gzip file), a possibly
short row (a missing value in the last column), a numeric column with words or infinity in it, a column pandas
reads as booleans. Those messages (file, line, column) therefore come from one reader only, and a clean file,
however large, never goes through a Python loop.
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import numpy as np

from nntrain.data.tables import MISSING_TOKENS, mostly_numeric


@cache
def available() -> bool:
    """Whether pandas can be imported (the `data` extra)."""
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


CHUNK_ROWS = 65_536  # rows parsed at a time: pandas' whole-file parse peaks at 4x its result, chunks at 2x


def _categorical(series) -> np.ndarray | None:
    """(rows,) object array of stripped str, None where missing."""
    values = series.to_numpy(dtype=object, na_value=None)
    out = np.empty(len(values), dtype=object)
    out[:] = [None if v is None or v.strip() in MISSING_TOKENS else v.strip() for v in values]
    return out


def _numeric(series) -> np.ndarray | None:
    """(rows,) float32 with NaN where missing; None when a value is infinite (the reference reader says where)."""
    values = series.to_numpy(dtype=np.float32, na_value=np.nan)
    return None if np.isinf(values).any() else values


def _dtypes(sample, header: list[str], kinds: dict[str, str]) -> dict[int, type]:
    """Column position -> float32 where the first rows are numbers (and no training file made the column
    categorical), else str. float32 halves the memory of the parse and is exactly the float64 value rounded, as
    the encoder rounds it; a word further down a float32 column fails the parse, and the reference reader names it.
    """
    import pandas as pd

    dtypes = {}
    for i, name in enumerate(header):
        dtype = sample.iloc[:, i].dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        dtypes[i] = np.float32 if numeric and kinds.get(name) != "categorical" else str
    return dtypes


def _mostly_numbers(values: np.ndarray) -> bool:
    """The column-type rule (tables.mostly_numeric), answered for a whole column with a vectorized first look."""
    import pandas as pd

    filled = values[~np.equal(values, None)]
    if not len(filled) or pd.to_numeric(pd.Series(filled), errors="coerce").notna().sum() * 2 <= len(filled):
        return False
    return mostly_numeric(filled)


def read(path: Path, header: list[str], wanted: list[str], kinds: dict[str, str],
         delimiter: str) -> dict[str, np.ndarray] | None:
    """The wanted columns of a delimited file, or None when the reference reader must read it (module docstring).

    Args:
        path: the file, gzipped when its name ends in .gz.
        header: its column names (already checked by the reference header reader).
        wanted: the columns to return, in order.
        kinds: column -> 'numeric' | 'categorical' where a training file fixed its type.
        delimiter: "," or "\t".

    Returns:
        column name -> (rows,) float32 (NaN where missing) or object array of str (None where missing).
    """
    import pandas as pd

    options = dict(sep=delimiter, header=0, index_col=False, encoding="utf-8-sig", skipinitialspace=True,
                   keep_default_na=False, na_values=sorted(MISSING_TOKENS), engine="c",
                   compression="gzip" if path.suffix == ".gz" else None)
    # every column is parsed (usecols would let pandas drop a row's extra values silently); a NaN in the last
    # column may be a short row, which pandas fills silently
    positions = [header.index(c) for c in wanted]
    last = len(header) - 1
    parts: dict[int, list] = {i: [] for i in positions}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dtypes = _dtypes(pd.read_csv(path, nrows=1000, **options), header, kinds)
            for chunk in pd.read_csv(path, dtype=dtypes, chunksize=CHUNK_ROWS, **options):
                if chunk.shape[1] != len(header) or chunk.iloc[:, last].isna().any():
                    return None
                for i in positions:
                    convert = _numeric if dtypes[i] is np.float32 else _categorical
                    column = convert(chunk.iloc[:, i])
                    if column is None:
                        return None
                    parts[i].append(column)
    except Exception:  # noqa: BLE001 - any parser complaint is diagnosed, with its line, by the reference reader
        return None
    if not sum(len(part) for part in parts[positions[0]]):
        return None  # no data rows: the reference reader says so
    out = {}
    for name, i in zip(wanted, positions):
        if dtypes[i] is str and kinds.get(name) == "numeric":
            return None  # words where the training file had numbers: the reference reader names the first
        column = np.concatenate(parts.pop(i))
        if column.dtype == object and kinds.get(name) is None and _mostly_numbers(column):
            return None  # a numeric column with a stray word: the reference reader names it
        out[name] = column
    return out
