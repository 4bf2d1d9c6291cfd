"""Table: named columns read from delimited text (CSV, or TSV with tabs), with errors that name the file, line and
column. `delimiter` is "," for CSV and "\t" for TSV; everything else (quoting, gzip, the column rules) is shared.

A column is numeric (float64) or categorical (an object array of str). A column counts as categorical only when
most of its values are not numbers; a numeric column with a stray word is an error pointing at that value.

Missing values: a cell that is empty or holds one of MISSING_TOKENS (NA, N/A, NaN, nan, ?; surrounding spaces
ignored) is missing: NaN in a numeric column, None in a categorical one. Reading never fails on them; the encoder
refuses them, naming the column and lines, unless an `impute` step fills them (nntrain.data.steps). Infinity is
not missing but an error. Categorical values lose surrounding whitespace; case is kept ("Red" is not "red").

Two readers produce the same Table: pandas' C parser (tables_pandas.py, when pandas is installed: the `data`
extra) for speed on files of 1 MiB and more, and the csv-module reader here, which reads smaller files and every
file pandas has any doubt about, so that messages (file, line, column) come from one place.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nntrain.errors import DataError
from nntrain.registry import did_you_mean

# smaller files: the csv-module reader is done before pandas is imported (~0.15 s); both give the same columns
PANDAS_MIN_BYTES = 1 << 20
MISSING_TOKENS = frozenset({"", "NA", "N/A", "NaN", "nan", "?"})  # what a missing value looks like in a cell


class Table:
    """Equal-length named columns.

    Attributes:
        columns: name -> (rows,) float64 array (numeric) or object array of str (categorical), in file order.
        source: where the rows came from, for error messages.
    """

    def __init__(self, columns: dict[str, np.ndarray], source: str = "", rows: np.ndarray | None = None):
        self.columns = dict(columns)
        self.source = source
        lengths = {len(c) for c in self.columns.values()}
        if len(lengths) > 1:
            raise DataError(f"{source}: columns of different lengths {sorted(lengths)}")
        # (rows,) each row's 0-based data row number in `source`, for messages that point at a line
        self.rows = np.arange(len(self), dtype=np.int64) if rows is None else np.asarray(rows, np.int64)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def is_numeric(self, name: str) -> bool:
        return self.columns[name].dtype != object

    def take(self, rows: np.ndarray) -> Table:
        """The given rows (int indices), same columns."""
        return Table({k: v[rows] for k, v in self.columns.items()}, self.source, self.rows[rows])

    def select(self, names: list[str], role: str = "feature") -> Table:
        """The named columns, in the given order; a missing one raises DataError with the closest name."""
        check_columns(names, self.names, self.source, role)
        return Table({n: self.columns[n] for n in names}, self.source, self.rows)

    def missing(self, name: str) -> np.ndarray:
        """(rows,) bool: where column `name` has a missing value (NaN, or None in a categorical column)."""
        col = self.columns[name]
        return np.isnan(col) if col.dtype != object else np.equal(col, None)

    def where(self, i: int) -> str:
        """Row i's line in its file, as messages show it."""
        row = int(self.rows[i])
        return f"line {row + 2} (data row {row + 1})"


def check_columns(wanted: list[str], available: list[str], source: str, role: str = "feature") -> None:
    """DataError naming the first wanted column that is not available, the closest one and the full list."""
    for name in wanted:
        if name not in available:
            shown = ", ".join(available[:30]) + (", ..." if len(available) > 30 else "")
            raise DataError(
                f"{source}: no {role} column {name!r}{did_you_mean(name, available)}; the columns are: {shown}"
            )


def refuse_missing(table: Table, column: str, fix: str) -> None:
    """DataError naming the column and the first lines where it has missing values (when it has any).

    Args:
        fix: what the user can do about it, appended to the message.
    """
    where = np.flatnonzero(table.missing(column))
    if len(where):
        lines = ", ".join(table.where(i) for i in where[:3]) + (", ..." if len(where) > 3 else "")
        plural = "s" if len(where) > 1 else ""
        raise DataError(f"{table.source or 'input'}: column {column!r} has {len(where)} missing value{plural} "
                        f"(empty, NA, NaN or ?) at {lines}; {fix}")


def _binary(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def open_text(path: Path) -> io.TextIOBase:
    """A text stream over a (possibly gzipped) file; a missing or unreadable file raises DataError."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise DataError(f"{path}: {what}")
    try:
        return io.TextIOWrapper(_binary(path), encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DataError(f"{path}: cannot open ({exc.strerror or exc})") from None


def _not_utf8(path: Path) -> str:
    """Where a file stops being UTF-8 text, found by decoding it line by line (only once reading has failed)."""
    with _binary(path) as f:
        for number, line in enumerate(f, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                if number == 1 and line[:2] in (b"\xff\xfe", b"\xfe\xff"):
                    return "line 1 starts with a UTF-16 byte-order mark; save the file as UTF-8"
                return (f"line {number}, byte {exc.start + 1} ({line[exc.start]:#04x}) is not UTF-8 text: save the "
                        f"file as UTF-8 (from Latin-1: iconv -f latin1 -t utf-8), or check that it is a text table")
    return "it is not UTF-8 text"


def _reader(stream, delimiter: str, path: Path) -> Iterator[list[str]]:
    """The rows of a delimited text stream. What is not UTF-8 text, a damaged or truncated gzip file and a field
    longer than the csv module allows (mostly an unbalanced quote) raise DataError naming the line."""
    reader = csv.reader(stream, delimiter=delimiter, skipinitialspace=True)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise DataError(f"{path}: {_not_utf8(path)}") from None
        except csv.Error as exc:
            raise DataError(f"{path}: line {reader.line_num}: {exc} (an unbalanced quote?)") from None
        except (EOFError, OSError, zlib.error) as exc:
            after = f" after line {reader.line_num}" if reader.line_num else ""
            raise DataError(f"{path}: the compressed file is damaged or cut short{after} ({exc})") from None
        yield row


def _header(reader, path: Path) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: the file is empty; expected a header line with column names") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise DataError(f"{path}: line 1 is blank; expected a header line with column names")
    seen = set()
    for i, name in enumerate(header):
        if not name:
            raise DataError(f"{path}: line 1, column {i + 1} has no name")
        if name in seen:
            raise DataError(f"{path}: line 1 names column {name!r} twice")
        seen.add(name)
    return header


def read_header(path: Path, delimiter: str = ",") -> list[str]:
    """The column names on the first line."""
    path = Path(path)
    with open_text(path) as stream:
        return _header(_reader(stream, delimiter, path), path)


def _where(path: Path, row: int, column: str) -> str:
    # data row i (0-based) sits on line i + 2 after the header (without quoted line breaks)
    return f"{path}: line {row + 2} (data row {row + 1}), column {column!r}"


def _parse_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def is_missing(value: str) -> bool:
    return value.strip() in MISSING_TOKENS


def to_numeric(values: list[str] | tuple, column: str, path: Path, first_row: int = 0) -> np.ndarray:
    """(rows,) float64 from strings, NaN where a value is missing; a non-number or infinity raises DataError with
    the line."""
    try:
        out = np.array(values, dtype=np.float64)  # one C loop for the common, clean column
    except ValueError:
        cleaned = ["nan" if is_missing(v) else v for v in values]
        try:
            out = np.array(cleaned, dtype=np.float64)
        except ValueError:
            i = next(i for i, v in enumerate(cleaned) if _parse_number(v) is None)
            raise DataError(f"{_where(path, first_row + i, column)}: {values[i]!r} is not a number") from None
    infinite = np.isinf(out)
    if infinite.any():
        i = int(np.argmax(infinite))
        raise DataError(
            f"{_where(path, first_row + i, column)}: {values[i].strip()!r} is not a finite number (infinity is not "
            "allowed)"
        )
    return out


def to_categorical(values: list[str] | tuple, column: str, path: Path, first_row: int = 0) -> np.ndarray:
    """(rows,) object array of stripped strings, None where a value is missing."""
    out = np.empty(len(values), dtype=object)
    out[:] = [None if v in MISSING_TOKENS else v for v in (v.strip() for v in values)]
    return out


def mostly_numeric(values) -> bool:
    """Whether more than half of the values that are not missing are numbers (the column-type rule)."""
    filled = [v for v in values if not is_missing(v)]
    parsed = sum(_parse_number(v) is not None for v in filled)
    return bool(filled) and parsed * 2 > len(filled)


def _rows(reader, header: list[str], path: Path, first_row: int, limit: int | None) -> list[list[str]]:
    """Up to `limit` data rows, each checked to have one value per column."""
    rows = []
    width = len(header)
    for row in reader:
        if len(row) != width:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            i = first_row + len(rows)
            raise DataError(
                f"{path}: line {i + 2} (data row {i + 1}) has {len(row)} values; the header has {width} columns"
            )
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    return rows


def convert_column(values, name: str, path: Path, first_row: int, kind: str | None) -> np.ndarray:
    """One column's strings as numbers or categories; `kind` 'numeric' | 'categorical' | None (detect)."""
    if kind is None:
        try:
            return to_numeric(values, name, path, first_row)
        except DataError:
            kind = "numeric" if mostly_numeric(values) else "categorical"
    convert = to_numeric if kind == "numeric" else to_categorical
    return convert(values, name, path, first_row)


def _columns(
    rows: list[list[str]], header: list[str], wanted: list[str], path: Path, first_row: int, kinds: dict[str, str]
) -> dict[str, np.ndarray]:
    """Convert the wanted columns of string rows; kinds[name] is 'numeric', 'categorical' or absent (detect)."""
    position = {name: i for i, name in enumerate(header)}
    transposed = list(zip(*rows))  # one pass over the rows for every column
    return {name: convert_column(transposed[position[name]], name, path, first_row, kinds.get(name))
            for name in wanted}


CHUNK_ROWS = 65_536  # rows converted at a time by the csv-module reader


def read_table_csv(path: Path, header: list[str], wanted: list[str], kinds: dict[str, str],
                   delimiter: str) -> dict[str, np.ndarray]:
    """The wanted columns of a delimited file with the csv module (the reference reader), CHUNK_ROWS rows at a time:
    a column of numbers keeps only its float64 values, never a Python string per cell for the whole file. A column
    whose type is detected and that turns from numbers to text after its first chunk is read again whole (the
    type rule needs all of its values)."""
    position = {name: header.index(name) for name in wanted}
    parts: dict[str, list] = {name: [] for name in wanted}
    with open_text(path) as stream:
        reader = _reader(stream, delimiter, path)
        _header(reader, path)
        first = 0
        while rows := _rows(reader, header, path, first, CHUNK_ROWS):
            columns = list(zip(*rows))
            for name in wanted:
                if not _add_chunk(parts[name], columns[position[name]], name, path, first, kinds.get(name)):
                    return _read_whole(path, header, wanted, kinds, delimiter)
            first += len(rows)
    if not first:
        raise DataError(f"{path}: the header names {len(header)} columns but there are no data rows")
    out = {}
    for name, chunks in parts.items():
        if isinstance(chunks[0], tuple):  # text from the first chunk on: the column's type from all its values
            out[name] = convert_column([v for chunk in chunks for v in chunk], name, path, 0, None)
        else:
            out[name] = np.concatenate(chunks)
    return out


def _add_chunk(chunks: list, values: tuple, name: str, path: Path, first_row: int, kind: str | None) -> bool:
    """Append one chunk of a column: converted when its type is fixed or it is still all numbers, else as text.
    False when a column detected as numbers so far turns to text (read_table_csv then reads the file whole)."""
    if kind is not None:
        chunks.append(convert_column(values, name, path, first_row, kind))
    elif chunks and isinstance(chunks[0], tuple):
        chunks.append(values)
    else:
        try:
            chunks.append(to_numeric(values, name, path, first_row))
        except DataError:
            if chunks:
                return False
            chunks.append(values)
    return True


def _read_whole(path: Path, header: list[str], wanted: list[str], kinds: dict[str, str],
                delimiter: str) -> dict[str, np.ndarray]:
    """read_table_csv for a file whose column types only all of its rows decide: every row in memory."""
    with open_text(path) as stream:
        reader = _reader(stream, delimiter, path)
        _header(reader, path)
        rows = _rows(reader, header, path, 0, None)
    return _columns(rows, header, wanted, path, 0, kinds)


def read_table(
    path: Path, columns: list[str] | None = None, kinds: dict[str, str] | None = None, delimiter: str = ","
) -> Table:
    """All rows of a delimited file with a header line.

    Args:
        path: the file, gzipped when its name ends in .gz.
        columns: the columns to convert and keep (default: all); a missing one raises DataError.
        kinds: optional name -> 'numeric' | 'categorical' to force a column's type instead of detecting it.
        delimiter: "," (CSV) or "\t" (TSV).

    Returns:
        Table of (rows,) columns.
    """
    from nntrain.data import tables_pandas

    path = Path(path)
    header = read_header(path, delimiter)
    wanted = header if columns is None else list(columns)
    check_columns(wanted, header, str(path), "")
    kinds = kinds or {}
    fast = path.stat().st_size >= PANDAS_MIN_BYTES and tables_pandas.available()
    columns_read = tables_pandas.read(path, header, wanted, kinds, delimiter) if fast else None
    if columns_read is None:  # no pandas, or a file it had doubts about: the reference reader decides
        columns_read = read_table_csv(path, header, wanted, kinds, delimiter)
    return Table(columns_read, str(path))


def stream_table(
    path: Path, columns: list[str], kinds: dict[str, str], chunk_rows: int = 1024, delimiter: str = ","
) -> Iterator[Table]:
    """The wanted columns of a delimited file, `chunk_rows` rows at a time (memory stays constant in the file size).

    Args:
        path: the file (gzipped when its name ends in .gz); other columns (a target, ids) are ignored.
        columns: the columns to yield, in order; a missing one raises DataError naming what was expected.
        kinds: name -> 'numeric' | 'categorical' for each wanted column.
        chunk_rows: rows per chunk.
        delimiter: "," (CSV) or "\t" (TSV).
    """
    path = Path(path)
    with open_text(path) as stream:
        reader = _reader(stream, delimiter, path)
        header = _header(reader, path)
        check_columns(columns, header, str(path), "feature")
        first_row = 0
        while True:
            rows = _rows(reader, header, path, first_row, chunk_rows)
            if not rows:
                return
            yield Table(_columns(rows, header, columns, path, first_row, kinds), str(path),
                        np.arange(first_row, first_row + len(rows), dtype=np.int64))
            first_row += len(rows)


def describe_table(path: Path, columns: list[str], limit: int, delimiter: str = ",") -> dict[str, dict]:
    """Type and distinct values of some columns, from one read of the file (read_table): name -> {kind, values}.

    Categorical columns report every distinct value; numeric columns their distinct numbers while there are at most
    `limit` of them, else None (a class column has few, see encoders.is_class_label). Used by `describe`.
    """
    table = read_table(path, columns, delimiter=delimiter)
    info = {}
    for name in columns:
        col = table.columns[name]
        if not table.is_numeric(name):
            info[name] = {"kind": "categorical", "values": {v for v in col if v is not None}}
            continue
        values = np.unique(col[~np.isnan(col)].astype(np.float64))
        info[name] = {"kind": "numeric", "values": set(values.tolist()) if len(values) <= limit else None}
    return info
