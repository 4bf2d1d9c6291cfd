"""Table: named columns read from delimited text (CSV, or TSV with tabs), with errors that name the file, line and
column. `delimiter` is "," for CSV and "\t" for TSV; everything else (quoting, gzip, the column rules) is shared.

A column is numeric (float64) or categorical (an object array of str). A column counts as categorical only when
most of its values are not numbers; a numeric column with a stray word is an error pointing at that value.
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


class Table:
    """Equal-length named columns.

    Attributes:
        columns: name -> (rows,) float64 array (numeric) or object array of str (categorical), in file order.
        source: where the rows came from, for error messages.
    """

    def __init__(self, columns: dict[str, np.ndarray], source: str = ""):
        self.columns = dict(columns)
        self.source = source
        lengths = {len(c) for c in self.columns.values()}
        if len(lengths) > 1:
            raise DataError(f"{source}: columns of different lengths {sorted(lengths)}")

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def is_numeric(self, name: str) -> bool:
        return self.columns[name].dtype != object

    def take(self, rows: np.ndarray) -> Table:
        """The given rows (int indices), same columns."""
        return Table({k: v[rows] for k, v in self.columns.items()}, self.source)

    def select(self, names: list[str], role: str = "feature") -> Table:
        """The named columns, in the given order; a missing one raises DataError with the closest name."""
        check_columns(names, self.names, self.source, role)
        return Table({n: self.columns[n] for n in names}, self.source)


def check_columns(wanted: list[str], available: list[str], source: str, role: str = "feature") -> None:
    """DataError naming the first wanted column that is not available, the closest one and the full list."""
    for name in wanted:
        if name not in available:
            shown = ", ".join(available[:30]) + (", ..." if len(available) > 30 else "")
            raise DataError(
                f"{source}: no {role} column {name!r}{did_you_mean(name, available)}; the columns are: {shown}"
            )


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


def to_numeric(values: list[str] | np.ndarray, column: str, path: Path, first_row: int = 0) -> np.ndarray:
    """(rows,) float64 from strings; empty, non-numeric, NaN and infinite values raise DataError with the line."""
    try:
        out = np.array(values, dtype=np.float64)
    except ValueError:
        for i, v in enumerate(values):
            if v.strip() == "":
                raise DataError(f"{_where(path, first_row + i, column)}: the value is missing (empty)") from None
            if _parse_number(v) is None:
                raise DataError(f"{_where(path, first_row + i, column)}: {v!r} is not a number") from None
        raise
    bad = ~np.isfinite(out)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"{_where(path, first_row + i, column)}: {values[i].strip()!r} is not a finite number "
            "(NaN and infinity are not allowed; fill or drop missing values first)"
        )
    return out


def to_categorical(values: list[str], column: str, path: Path, first_row: int = 0) -> np.ndarray:
    """(rows,) object array of stripped strings; an empty value raises DataError with the line."""
    out = np.array([v.strip() for v in values], dtype=object)
    empty = out == ""
    if empty.any():
        i = int(np.argmax(empty))
        raise DataError(f"{_where(path, first_row + i, column)}: the value is missing (empty)")
    return out


def _mostly_numeric(values: list[str]) -> bool:
    try:
        np.array(values, dtype=np.float64)
        return True
    except ValueError:
        pass
    parsed = sum(_parse_number(v) is not None for v in values if v.strip() != "")
    filled = sum(v.strip() != "" for v in values)
    return filled > 0 and parsed * 2 > filled


def _rows(reader, header: list[str], path: Path, first_row: int, limit: int | None) -> list[list[str]]:
    """Up to `limit` data rows, each checked to have one value per column."""
    rows = []
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) != len(header):
            i = first_row + len(rows)
            raise DataError(
                f"{path}: line {i + 2} (data row {i + 1}) has {len(row)} values; the header has {len(header)} "
                "columns"
            )
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    return rows


def _columns(
    rows: list[list[str]], header: list[str], wanted: list[str], path: Path, first_row: int, kinds: dict[str, str]
) -> dict[str, np.ndarray]:
    """Convert the wanted columns of string rows; kinds[name] is 'numeric', 'categorical' or absent (detect)."""
    position = {name: i for i, name in enumerate(header)}
    out = {}
    for name in wanted:
        values = [r[position[name]] for r in rows]
        kind = kinds.get(name) or ("numeric" if _mostly_numeric(values) else "categorical")
        convert = to_numeric if kind == "numeric" else to_categorical
        out[name] = convert(values, name, path, first_row)
    return out


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
    path = Path(path)
    with open_text(path) as stream:
        reader = _reader(stream, delimiter, path)
        header = _header(reader, path)
        wanted = header if columns is None else list(columns)
        check_columns(wanted, header, str(path), "")
        rows = _rows(reader, header, path, 0, None)
    if not rows:
        raise DataError(f"{path}: the header names {len(header)} columns but there are no data rows")
    return Table(_columns(rows, header, wanted, path, 0, kinds or {}), str(path))


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
            yield Table(_columns(rows, header, columns, path, first_row, kinds), str(path))
            first_row += len(rows)


def describe_table(path: Path, columns: list[str], limit: int, delimiter: str = ",") -> dict[str, dict]:
    """Type and distinct values of some columns, streaming the file once: name -> {kind, values}.

    Categorical columns report every distinct value; numeric columns their distinct numbers while there are at most
    `limit` of them, else None (a class column has few, see encoders.is_class_label). Used by `describe`.
    """
    path = Path(path)
    info: dict[str, dict] = {c: {"kind": None, "values": set()} for c in columns}
    with open_text(path) as stream:
        reader = _reader(stream, delimiter, path)
        header = _header(reader, path)
        check_columns(columns, header, str(path), "")
        position = [header.index(c) for c in columns]
        seen = 0
        while rows := _rows(reader, header, path, seen, 4096):
            for name, pos in zip(columns, position):
                values = [r[pos] for r in rows]
                entry = info[name]
                if entry["kind"] is None:
                    entry["kind"] = "numeric" if _mostly_numeric(values) else "categorical"
                if entry["kind"] == "categorical":
                    entry["values"].update(v.strip() for v in values)
                elif entry["values"] is not None:
                    entry["values"].update(np.unique([_parse_number(v) or 0.0 for v in values]).tolist())
                    if len(entry["values"]) > limit:
                        entry["values"] = None
            seen += len(rows)
    return info
