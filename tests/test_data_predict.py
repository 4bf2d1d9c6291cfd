"""read_inputs: new files for `nntrain predict`, chunked, with the stored preprocessing."""

import tracemalloc

import numpy as np
import pytest

from nntrain.data import Preprocessor, read_inputs
from nntrain.errors import DataError
from tests.data_helpers import data_bundle, idx_bytes


@pytest.fixture
def trained(tmp_path):
    rows = "".join(f"{i},{i * 2 % 7},{['red', 'blue'][i % 2]},{i % 3}\n" for i in range(30))
    (tmp_path / "train.csv").write_text("a,b,color,label\n" + rows)
    spec = {"train": "train.csv", "target": "label", "preprocessing": ["standardize"]}
    b = data_bundle(spec, tmp_path)
    return b, Preprocessor.from_state(b.preprocessor.get_state())


@pytest.mark.parametrize("name, sep", [("new.csv", ","), ("new.tsv", "\t")])  # a CSV-trained model reads TSV too
def test_csv_columns_in_any_order_target_ignored(trained, tmp_path, name, sep):
    b, pre = trained
    rows = "".join(sep.join([str(i * 2 % 7), ["red", "blue"][i % 2], str(i), "xx"]) + "\n" for i in range(30))
    (tmp_path / name).write_text(sep.join(["b", "color", "a", "note"]) + "\n" + rows)
    chunks = list(read_inputs(tmp_path / name, pre, batch_size=8))
    assert [len(c) for c in chunks] == [8, 8, 8, 6]
    np.testing.assert_allclose(np.concatenate(chunks), b.train.x, rtol=1e-6)


def test_csv_missing_feature_column(trained, tmp_path):
    _, pre = trained
    (tmp_path / "new.csv").write_text("a,colour\n1,red\n")
    with pytest.raises(DataError, match=r"no feature column 'b'.*the columns are: a, colour"):
        list(read_inputs(tmp_path / "new.csv", pre))


def test_csv_bad_value_names_line(trained, tmp_path):
    _, pre = trained
    (tmp_path / "new.csv").write_text("a,b,color\n" + "1,2,red\n" * 5 + "1,x,red\n")
    with pytest.raises(DataError, match=r"line 7 \(data row 6\), column 'b': 'x' is not a number"):
        list(read_inputs(tmp_path / "new.csv", pre, batch_size=2))


def test_npy_feature_count_checked(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,7,0\n")
    b = data_bundle({"train": "t.csv", "target": "y"}, tmp_path)
    np.save(tmp_path / "ok.npy", np.array([[1.0, 2.0], [5.0, 6.0]]))
    (chunk,) = read_inputs(tmp_path / "ok.npy", b.preprocessor)
    np.testing.assert_array_equal(chunk, [[1, 2], [5, 6]])
    np.save(tmp_path / "bad.npy", np.zeros((2, 3)))
    with pytest.raises(DataError, match=r"expected 2 feature columns \['a', 'b'\] for input 'input', got an array"):
        list(read_inputs(tmp_path / "bad.npy", b.preprocessor))


def test_npz_images_by_key_and_shape(tmp_path):
    x = np.arange(6 * 4, dtype=np.uint8).reshape(6, 2, 2)
    np.savez(tmp_path / "train.npz", x=x, y=np.arange(6) % 2)
    b = data_bundle({"train": "train.npz", "preprocessing": [{"rescale": {"scale": 0.1}}, "flatten"]}, tmp_path)
    np.savez(tmp_path / "new.npz", x=x[:5])
    (tmp_path / "new-idx3-ubyte.gz").write_bytes(idx_bytes(x[:5]))  # the same images as an IDX file
    for name in ("new.npz", "new-idx3-ubyte.gz"):
        chunks = list(read_inputs(tmp_path / name, b.preprocessor, batch_size=2))
        np.testing.assert_allclose(np.concatenate(chunks), b.train.x[:5])
    np.savez(tmp_path / "wrong.npz", x=np.zeros((2, 3, 3)))
    with pytest.raises(DataError, match=r"expects samples of shape \(2, 2\), got \(3, 3\)"):
        list(read_inputs(tmp_path / "wrong.npz", b.preprocessor))
    np.savez(tmp_path / "nokey.npz", pixels=x)
    with pytest.raises(DataError, match="no array 'x'"):
        list(read_inputs(tmp_path / "nokey.npz", b.preprocessor))


def test_large_csv_is_streamed_in_constant_memory(trained, tmp_path):
    _, pre = trained
    path = tmp_path / "big.csv"
    with open(path, "w") as fp:
        fp.write("a,b,color\n")
        line = "1.5,2.25,blue\n"
        fp.write(line * 100_000)  # ~1.4 MB on disk
    tracemalloc.start()
    n = 0
    for chunk in read_inputs(path, pre, batch_size=1000):
        n += len(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 100_000
    assert peak < 1_500_000  # bounded by the chunk size, well under the file's size in Python objects


def test_text_lines_need_a_text_model(trained, tmp_path):
    _, pre = trained
    (tmp_path / "x.txt").write_text("hello\n")
    with pytest.raises(DataError, match="need a model trained on text"):
        list(read_inputs(tmp_path / "x.txt", pre))
    with pytest.raises(DataError, match="not found"):
        list(read_inputs(tmp_path / "missing.csv", pre))


def test_arrays_by_key_from_npz_and_hdf5_in_chunks(tmp_path):
    import h5py

    rng = np.random.default_rng(0)
    wide, deep = rng.normal(size=(7, 3)), rng.normal(size=(7, 2, 2))
    np.savez(tmp_path / "train.npz", w=wide, d=deep, y=np.arange(7) % 2)
    spec = {"train": "train.npz", "inputs": {"wide": "w", "deep": "d"}, "target": "y",
            "preprocessing": {"wide": ["standardize"], "deep": ["flatten"]}}
    b = data_bundle(spec, tmp_path)
    with h5py.File(tmp_path / "new.h5", "w") as f:
        f["w"], f["d"] = wide, deep
    for path in (tmp_path / "train.npz", tmp_path / "new.h5"):
        chunks = list(read_inputs(path, b.preprocessor, batch_size=3))
        assert [len(c["wide"]) for c in chunks] == [3, 3, 1]
        for name in ("wide", "deep"):
            np.testing.assert_allclose(np.concatenate([c[name] for c in chunks]), b.train.x[name], rtol=1e-6)
    with h5py.File(tmp_path / "nokey.h5", "w") as f:
        f["w"] = wide
    with pytest.raises(DataError, match=r"nokey\.h5: no dataset 'd'"):
        list(read_inputs(tmp_path / "nokey.h5", b.preprocessor))
