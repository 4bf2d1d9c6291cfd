"""The two CSV readers (pandas' C parser when the `data` extra is installed, the csv module otherwise) read the same
files into the same columns and refuse the same faults with the same message (file, line, column)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from nntrain.data import tables, tables_pandas
from nntrain.data.tables import read_table
from nntrain.errors import DataError

pytestmark = pytest.mark.skipif(not tables_pandas.available(), reason="pandas (the `data` extra) is not installed")

MANY = "".join(f"{i * 0.5},{'ab'[i % 2]},{i % 3}\n" for i in range(1500))  # more rows than the type sample

CLEAN = {
    "numbers": "x,y\n1,0\n2.5,1\n-3e2,0\n",
    "categories, whitespace stripped, case kept": "color,size,y\nred, 1,0\n Red ,2,1\nblue,3 ,0\n",
    "missing values of every spelling": "a,b,y\n1,x,0\n,NA,1\nNaN,?,0\n N/A ,  ,1\nnan,z,0\n",
    "booleans stay text": "flag,y\nTrue,0\nfalse,1\nTRUE,0\n",
    "a few words in a text column": "c,y\n1,0\n2,1\nlow,0\nhigh,1\nmid,0\n",
    "quoted commas and a byte-order mark": '\ufeffname,y\n"Smith, J",1\n"Doe, A",0\n',
    "blank lines skipped": "x,y\n1,0\n\n2,1\n\n",
    "more rows than the sample": "x,c,y\n" + MANY,
    "a column that turns to words after the sample": "x,c,y\n" + MANY.replace(",", ",w", 1) + "".join(
        f"1,word{i},0\n" for i in range(4000)),
    "tsv": "x\ty\n1\t0\n2\t1\n",
}

FAULTS = {
    "a word in a numeric column": ("x,y\n1,0\n2,1\nabc,0\n4,1\n5,0\n", r"line 4 \(data row 3\), column 'x': 'abc'"),
    "a word after the type sample": ("x,c,y\n" + MANY + "oops,a,1\n", r"line 1502 \(data row 1501\), column 'x'"),
    "infinity": ("x,y\n1,0\ninf,1\n3,0\n", r"line 3 \(data row 2\), column 'x': 'inf' is not a finite number"),
    "a row too long": ("x,y\n1,0\n2,1,7\n", r"line 3 \(data row 2\) has 3 values; the header has 2 columns"),
    "a row too short": ("x,y,z\n1,0,1\n2,1\n3,0,1\n", r"line 3 \(data row 2\) has 2 values; the header has 3"),
    "an unclosed quote": ('x,y\n"' + "a" * 200_000 + ",1\n", r"line 2: field larger than field limit"),
    "not UTF-8": (b"x,y\n1,0\n\xe9,1\n", r"line 3, byte 1 \(0xe9\) is not UTF-8 text"),
    "no data rows": ("x,y\n", r"the header names 2 columns but there are no data rows"),
}


@pytest.fixture(autouse=True)
def pandas_for_every_size(monkeypatch):
    """read_table leaves files under PANDAS_MIN_BYTES to the csv-module reader; these small files test pandas."""
    monkeypatch.setattr(tables, "PANDAS_MIN_BYTES", 0)


@pytest.fixture(params=["pandas", "csv"])
def reader(request, monkeypatch):
    """Which reader read_table uses; with "pandas", also whether it read the file itself (not the fallback)."""
    used = []
    if request.param == "csv":
        monkeypatch.setattr(tables_pandas, "available", lambda: False)
    else:
        real = tables_pandas.read

        def spy(*args):
            out = real(*args)
            used.append(out is not None)
            return out

        monkeypatch.setattr(tables_pandas, "read", spy)
    return request.param, used


def _write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    elif isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _plain(table):
    """Columns as comparable Python values: float64 numbers (NaN as None) or str/None."""
    out = {}
    for name, col in table.columns.items():
        if col.dtype == object:
            out[name] = ("categorical", list(col))
        else:
            out[name] = ("numeric", [None if np.isnan(v) else float(np.float32(v)) for v in col])
    return out


def _both(path, monkeypatch, **kwargs):
    fast = read_table(path, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(tables_pandas, "available", lambda: False)
        reference = read_table(path, **kwargs)
    return fast, reference


@pytest.fixture(params=[65_536, 7])
def chunks(request, monkeypatch):
    """The csv-module reader's chunk size: its default, and 7 rows (so every file spans many chunks)."""
    monkeypatch.setattr(tables, "CHUNK_ROWS", request.param)


@pytest.mark.parametrize("name", list(CLEAN))
def test_both_readers_give_the_same_columns(tmp_path, monkeypatch, chunks, name):
    text = CLEAN[name]
    path = _write(tmp_path, text, "t.tsv" if name == "tsv" else "t.csv")
    delimiter = "\t" if name == "tsv" else ","
    fast, reference = _both(path, monkeypatch, delimiter=delimiter)
    assert _plain(fast) == _plain(reference)
    assert fast.names == reference.names


def test_clean_files_are_read_by_pandas_itself(tmp_path, reader):
    kind, used = reader
    path = _write(tmp_path, "x,color,y\n1, red ,0\n,NA,1\n3,blue,0\n")
    table = read_table(path)
    assert table.is_numeric("x") and not table.is_numeric("color")
    assert np.isnan(table.columns["x"][1]) and table.columns["color"][1] is None
    assert list(table.columns["color"][[0, 2]]) == ["red", "blue"]
    if kind == "pandas":
        assert used == [True]


def test_the_known_values_are_the_reference_readers(tmp_path, monkeypatch):
    """Missing spellings and categories as documented, on both readers."""
    path = _write(tmp_path, CLEAN["missing values of every spelling"])
    for table in _both(path, monkeypatch):
        assert np.isnan(table.columns["a"][1:]).tolist() == [True, True, True, True]
        assert list(table.columns["b"]) == ["x", None, None, None, "z"]


def test_a_gzipped_file_reads_like_the_plain_one(tmp_path, reader):
    text = CLEAN["more rows than the sample"]
    plain, zipped = _write(tmp_path, text), _write(tmp_path, text, "t.csv.gz")
    assert _plain(read_table(plain)) == _plain(read_table(zipped))


def test_a_test_file_is_read_with_the_training_files_column_types(tmp_path, reader):
    path = _write(tmp_path, "zip,y\n1010,0\n2020,1\n")
    table = read_table(path, kinds={"zip": "categorical", "y": "numeric"})
    assert list(table.columns["zip"]) == ["1010", "2020"]
    path = _write(tmp_path, "zip,y\n1010,0\nlow,1\n")
    with pytest.raises(DataError, match=r"line 3 \(data row 2\), column 'y'|column 'y'.*'low'|'low' is not"):
        read_table(path, kinds={"zip": "numeric", "y": "numeric"})


@pytest.mark.parametrize("name", list(FAULTS))
def test_both_readers_refuse_a_fault_with_the_same_message(tmp_path, reader, chunks, name):
    text, pattern = FAULTS[name]
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=pattern) as exc:
        read_table(path)
    assert str(path) in str(exc.value)


def test_a_damaged_gzip_file_is_named_by_both(tmp_path, reader):
    data = gzip.compress(("x,y\n" + "1,0\n" * 5000).encode())
    (tmp_path / "t.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="damaged or cut short"):
        read_table(tmp_path / "t.csv.gz")
