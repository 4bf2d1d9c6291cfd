"""Data files that are broken or not what their name says: each ends with exit 2 and one `error:` paragraph naming
the file and, where there is one, the line or array; no traceback (nntrain fit and predict, in-process)."""

from __future__ import annotations

import gzip
import io
import zipfile

import h5py
import numpy as np
import pytest

from tests.helpers import refused

ROWS = "".join(f"{a:.2f},{b:.2f},{c:.2f},{int(a > 0)}\n" for a, b, c in np.random.default_rng(0).normal(size=(40, 3)))
HEADER = "a,b,c,label\n"
GZ = gzip.compress((HEADER + ROWS).encode())


def npy_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def zipped(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def config(train: str, target: bool = True) -> str:
    return (f"name: hostile\nseed: 1\ndata:\n  train: {train}\n" + ("  target: label\n" if target else "")
            + "model:\n  layers:\n    - Dense: {units: 4, activation: relu}\n    - Dense: {units: 1, "
            "activation: sigmoid}\nloss: binary_crossentropy\ntraining: {epochs: 1}\n")


def h5(path, **datasets):
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            if isinstance(value, dict):
                f.create_group(key).create_dataset("inner", data=value["inner"])
            else:
                f[key] = value


CSV_CASES = [
    ("latin1.csv", (HEADER + ROWS.replace("0.", "\xe90.", 1)).encode("latin-1"), ["line 2", "not UTF-8", "iconv"]),
    ("binary.csv", bytes(np.random.default_rng(1).integers(128, 256, 500, dtype=np.uint8)), ["line 1", "UTF-8"]),
    ("utf16.csv", (HEADER + ROWS).encode("utf-16"), ["line 1", "UTF-16"]),
    ("truncated.csv.gz", GZ[: len(GZ) // 2], ["damaged or cut short"]),
    ("corrupt.csv.gz", GZ[:30] + b"\x00" * 10 + GZ[40:], ["damaged or cut short"]),
    ("plain.csv.gz", (HEADER + ROWS).encode(), ["damaged or cut short", "Not a gzipped file"]),
    ("longfield.csv", (HEADER + ROWS + "1.0,2.0," + "9" * 200_000 + ",1\n").encode(), ["line 42", "field limit"]),
    ("openquote.csv", (HEADER + '"' + "x" * 200_000 + '",1,2,1\n' + ROWS).encode(), ["line 2", "field limit"]),
]


@pytest.mark.parametrize("name,content,fragments", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_a_csv_that_cannot_be_read_as_text_names_its_line(tmp_path, name, content, fragments):
    (tmp_path / name).write_bytes(content)
    (tmp_path / "config.yaml").write_text(config(name))
    message = refused("fit", tmp_path / "config.yaml", "--runs-dir", tmp_path / "runs", "-q")
    assert "config.yaml:4:" in message and f"{name}:" in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert not (tmp_path / "runs").exists()


ARRAY_CASES = [
    ("junk-member.npz", lambda p: p.write_bytes(zipped({"x.npy": npy_bytes(np.ones((4, 3))), "y.npy": npy_bytes(
        np.arange(4) % 2), "notes.npy": b"this is not an array"})), ["[notes]", "not a valid .npy"]),
    ("cut-member.npz", lambda p: p.write_bytes(zipped({"x.npy": b"garbage", "y.npy": npy_bytes(np.ones(4))})),
     ["[x]"]),
    ("not-a-zip.npz", lambda p: p.write_bytes(b"PK\x03\x04 but no zip"), ["not a readable .npz"]),
    ("group.h5", lambda p: h5(p, x={"inner": np.ones((4, 3))}, y=np.ones(4)), ["'x' is a group, not a dataset"]),
    ("scalar.h5", lambda p: h5(p, x=3.0, y=np.ones(4)), ["[x]", "single value"]),
]


@pytest.mark.parametrize("name,make,fragments", ARRAY_CASES, ids=[c[0] for c in ARRAY_CASES])
def test_an_array_file_with_a_broken_member_is_named(tmp_path, name, make, fragments):
    make(tmp_path / name)
    (tmp_path / "config.yaml").write_text(config(name, target=False))
    message = refused("fit", tmp_path / "config.yaml", "--runs-dir", tmp_path / "runs", "-q")
    assert f"{name}" in message and "data.train" in message, message
    for fragment in fragments:
        assert fragment in message, message


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained on x (rows, 3) from an HDF5 file: predict takes arrays of samples of shape (3,)."""
    from nntrain.commands.fit import fit

    root = tmp_path_factory.mktemp("trained")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    h5(root / "train.h5", x=x, y=(x[:, 0] > 0).astype(int))
    (root / "config.yaml").write_text(config("train.h5", target=False))
    return fit(root / "config.yaml", runs_dir=root / "runs").run_dir


PREDICT_CASES = [
    ("zero-d.npy", lambda p: np.save(p, np.array(3.0)), ["single value"]),
    ("strings.npy", lambda p: np.save(p, np.array([["a", "b", "c"]])), ["expects numbers", "<U1"]),
    ("scalar.h5", lambda p: h5(p, x=3.0), ["scalar.h5[x]", "single value"]),
    ("group.h5", lambda p: h5(p, x={"inner": np.ones((2, 3))}), ["'x' is a group"]),
    ("junk-member.npz", lambda p: p.write_bytes(zipped({"x.npy": b"not npy"})), ["junk-member.npz[x]", "not a valid .npy"]),
]


@pytest.mark.parametrize("name,make,fragments", PREDICT_CASES, ids=[c[0] for c in PREDICT_CASES])
def test_predict_refuses_an_input_that_is_not_rows_of_numbers(trained, tmp_path, name, make, fragments):
    make(tmp_path / name)
    message = refused("predict", trained, tmp_path / name)
    assert name.split(".")[0] in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_an_overflowing_value_is_one_error_not_a_numpy_warning(tmp_path):
    """A value too large for float32 becomes inf: nntrain says so once; NumPy's RuntimeWarning and its source line
    never reach the terminal (a real process: the filter is the console script's)."""
    from tests.helpers import run_process

    (tmp_path / "big.csv").write_text(HEADER + ROWS + "1e300,1.0,2.0,1\n")
    (tmp_path / "config.yaml").write_text(config("big.csv"))
    result = run_process("fit", "config.yaml", "--runs-dir", "runs", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "RuntimeWarning" not in result.stderr and "encountered" not in result.stderr, result.stderr
    assert "infinite" in result.stderr or "finite" in result.stderr, result.stderr
