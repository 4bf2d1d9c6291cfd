"""The files `nntrain predict` writes, chunk by chunk: CSV and JSON Lines into a text stream, NPY into a file or a
binary stream. Memory stays constant in the number of rows."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


class TextWriter:
    """CSV (a header line, then rows) or JSON Lines (one object per row, keyed by the header) into a text stream;
    floats keep every digit (repr), NaN becomes an empty CSV cell or a JSON null."""

    def __init__(self, fp, header: list[str], fmt: str, owned: bool):
        self.fp, self.header, self.fmt, self.owned = fp, header, fmt, owned
        if fmt == "csv":
            self.csv = csv.writer(fp, lineterminator="\n")
            self.csv.writerow(header)

    def write(self, rows: list[list]) -> None:
        if self.fmt == "csv":
            self.csv.writerows([[_csv_value(v) for v in row] for row in rows])
        else:
            self.fp.write("".join(json.dumps(dict(zip(self.header, map(_json_value, row)))) + "\n" for row in rows))

    def close(self) -> None:
        self.fp.close() if self.owned else self.fp.flush()


def _csv_value(v):
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    return v


def _json_value(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


class NpyWriter:
    """An .npy file (or a binary stream) written chunk by chunk: the data goes to a temporary file first, since the
    header needs the total row count, then header and data are joined with a constant-size copy buffer."""

    def __init__(self, dest):
        self.dest = dest
        folder = dest.parent if isinstance(dest, Path) else None
        self.tmp = tempfile.NamedTemporaryFile("wb", delete=False, dir=folder, prefix=".predictions.")
        self.rows, self.dtype, self.shape = 0, None, None

    def write(self, array: np.ndarray) -> None:
        if self.dtype is None:
            self.dtype, self.shape = array.dtype, array.shape[1:]
        self.tmp.write(np.ascontiguousarray(array, self.dtype).tobytes())
        self.rows += len(array)

    def close(self) -> None:
        self.tmp.close()
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(self.dtype or np.float32)),
                  "fortran_order": False, "shape": (self.rows, *(self.shape or ()))}
        out = open(self.dest, "wb") if isinstance(self.dest, Path) else self.dest
        try:
            with open(self.tmp.name, "rb") as src:
                np.lib.format.write_array_header_1_0(out, header)
                shutil.copyfileobj(src, out, 1 << 20)
        finally:
            out.close() if isinstance(self.dest, Path) else out.flush()
        os.unlink(self.tmp.name)

    def abort(self) -> None:
        self.tmp.close()
        if os.path.exists(self.tmp.name):
            os.unlink(self.tmp.name)
