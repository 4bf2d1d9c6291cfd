"""Own files: CSV errors that name file/line/column, categorical columns, NPY/NPZ/HDF5, multi-input/output."""

from pathlib import Path

import numpy as np
import pytest

from nntrain.data import describe, load_raw, make_bundle
from nntrain.errors import ConfigError, DataError
from tests.data_helpers import data_bundle, idx_bytes


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


CSV = "a,b,color,label\n1,2,red,yes\n2,3,blue,no\n3,5,red,yes\n4,4,green,no\n5,1,blue,yes\n"


def test_csv_with_string_feature_and_label(tmp_path):
    write(tmp_path / "train.csv", CSV)
    b = data_bundle({"train": "train.csv", "target": "label"}, tmp_path)
    # a, b numeric; color one-hot over the sorted training categories blue, green, red
    assert b.info["feature_names"]["input"] == ["a", "b", "color=blue", "color=green", "color=red"]
    np.testing.assert_array_equal(b.train.x[0], [1, 2, 0, 0, 1])
    assert b.class_names == {"output": ["no", "yes"]}
    np.testing.assert_array_equal(b.train.y, [1, 0, 1, 0, 1])
    assert b.info["task"] == "binary"


def test_relative_paths_are_from_base_dir(tmp_path):
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "t.csv", CSV)
    b = data_bundle({"train": "data/t.csv", "target": "label", "features": ["a", "b"]}, tmp_path)
    assert b.train.x.shape == (5, 2)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: not found"):
        load_raw({"train": "nope.csv", "target": "y"}, tmp_path)


def test_missing_column_did_you_mean(tmp_path):
    write(tmp_path / "t.csv", CSV)
    with pytest.raises(DataError, match=r"t\.csv: no target column 'lable' \(did you mean `label`\?\)"):
        load_raw({"train": "t.csv", "target": "lable"}, tmp_path)
    with pytest.raises(DataError, match=r"no feature column 'colour' \(did you mean `color`\?\)"):
        load_raw({"train": "t.csv", "target": "label", "features": ["a", "colour"]}, tmp_path)


def test_target_required_for_csv(tmp_path):
    write(tmp_path / "t.csv", CSV)
    with pytest.raises(ConfigError, match="data.target is required") as exc:
        load_raw({"train": "t.csv"}, tmp_path)
    assert exc.value.path == ("data", "target")


def test_non_numeric_value_names_line_and_column(tmp_path):
    write(tmp_path / "t.csv", "x,y\n1,0\n2,1\n3,0\nabc,1\n5,0\n")
    with pytest.raises(DataError, match=r"t\.csv: line 5 \(data row 4\), column 'x': 'abc' is not a number"):
        load_raw({"train": "t.csv", "target": "y"}, tmp_path)


@pytest.mark.parametrize("bad", ["inf", "-Infinity"])
def test_infinity_rejected(tmp_path, bad):
    write(tmp_path / "t.csv", f"x,y\n1,0\n{bad},1\n3,0\n")
    with pytest.raises(DataError, match=r"line 3 \(data row 2\), column 'x': .* is not a finite number"):
        load_raw({"train": "t.csv", "target": "y"}, tmp_path)


@pytest.mark.parametrize("missing", ["", "NA", "nan", "NaN", " ? "])
def test_a_missing_value_is_refused_by_the_encoder_naming_column_and_line(tmp_path, missing):
    write(tmp_path / "t.csv", f"x,y\n1,0\n{missing},1\n3,0\n")
    raw = load_raw({"train": "t.csv", "target": "y"}, tmp_path)
    assert np.isnan(raw.train.x["input"].columns["x"][1])
    with pytest.raises(DataError, match=r"column 'x' has 1 missing value .* at line 3 \(data row 2\); .*impute"):
        make_bundle(raw, {})


def test_empty_file_and_header_only(tmp_path):
    write(tmp_path / "empty.csv", "")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        load_raw({"train": "empty.csv", "target": "y"}, tmp_path)
    write(tmp_path / "head.csv", "x,y\n")
    with pytest.raises(DataError, match=r"head\.csv: the header names 2 columns but there are no data rows"):
        load_raw({"train": "head.csv", "target": "y"}, tmp_path)


def test_ragged_row(tmp_path):
    write(tmp_path / "t.csv", "x,y\n1,0\n2,1,7\n")
    with pytest.raises(DataError, match=r"line 3 \(data row 2\) has 3 values; the header has 2 columns"):
        load_raw({"train": "t.csv", "target": "y"}, tmp_path)


def test_test_file_checked_with_training_types(tmp_path):
    write(tmp_path / "train.csv", "x,y\n1,0\n2,1\n3,0\n4,1\n")
    write(tmp_path / "test.csv", "x,y\n1,0\nfoo,1\n")
    with pytest.raises(DataError, match=r"test\.csv: line 3 .* 'foo' is not a number"):
        load_raw({"train": "train.csv", "test": "test.csv", "target": "y"}, tmp_path)
    write(tmp_path / "test.csv", "x\n1\n")
    with pytest.raises(DataError, match=r"test\.csv: no target column 'y'"):
        load_raw({"train": "train.csv", "test": "test.csv", "target": "y"}, tmp_path)


def test_unseen_label_in_test(tmp_path):
    write(tmp_path / "train.csv", "x,y\n1,cat\n2,dog\n3,cat\n")
    write(tmp_path / "test.csv", "x,y\n1,cat\n2,bird\n")
    with pytest.raises(DataError, match=r"row 2 of output 'output' has label 'bird'"):
        data_bundle({"train": "train.csv", "test": "test.csv", "target": "y"}, tmp_path)


def test_test_split_of_own_file(tmp_path):
    rows = "\n".join(f"{i},{i % 2}" for i in range(50))
    write(tmp_path / "t.csv", "x,y\n" + rows + "\n")
    b = data_bundle({"train": "t.csv", "target": "y", "test_split": 0.2}, tmp_path)
    assert len(b.test) == 10 and np.bincount(b.test.y).tolist() == [5, 5]
    np.testing.assert_array_equal(np.sort(np.concatenate([b.indices["train"], b.indices["test"]])), np.arange(50))


def test_multi_input_multi_output_csv(tmp_path):
    write(tmp_path / "t.csv", "a,b,c,d,price,kind\n1,2,3,4,10.5,x\n2,3,4,5,11.5,y\n3,4,5,6,12.25,x\n")
    spec = {
        "train": "t.csv",
        "inputs": {"wide": ["a", "b"], "deep": ["c", "d", "a"]},
        "outputs": {"main": "price", "aux": "kind"},
        "preprocessing": {"deep": ["standardize"]},
    }
    b = data_bundle(spec, tmp_path)
    assert set(b.train.x) == {"wide", "deep"} and b.train.x["wide"].shape == (3, 2)
    assert b.train.x["deep"].shape == (3, 3)
    np.testing.assert_allclose(b.train.x["deep"].mean(axis=0), 0, atol=1e-6)
    np.testing.assert_array_equal(b.train.x["wide"][:, 0], [1, 2, 3])  # not standardized
    assert b.train.y["main"].dtype == np.float32 and b.info["tasks"] == {"main": "regression", "aux": "binary"}
    assert b.class_names == {"main": None, "aux": ["x", "y"]}
    with pytest.raises(ConfigError, match="did you mean `deep`"):
        data_bundle({**spec, "preprocessing": {"dep": ["standardize"]}}, tmp_path)


def test_feature_that_is_target_rejected(tmp_path):
    write(tmp_path / "t.csv", CSV)
    with pytest.raises(ConfigError, match="'label' is also a target"):
        load_raw({"train": "t.csv", "target": "label", "features": ["a", "label"]}, tmp_path)


def test_npz_and_npy_and_h5(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3, 2)).astype(np.float32)
    y = rng.integers(0, 4, size=20)
    np.savez(tmp_path / "d.npz", x=x, y=y, extra=np.zeros(20))
    b = data_bundle({"train": "d.npz"}, tmp_path)
    assert b.train.x.shape == (20, 3, 2) and b.info["n_classes"] == 4
    with pytest.raises(DataError, match=r"no array 'feats'.*holds: x, y, extra"):
        load_raw({"train": "d.npz", "features": "feats"}, tmp_path)

    table = np.column_stack([rng.normal(size=(20, 2)), y])
    np.save(tmp_path / "d.npy", table)
    b = data_bundle({"train": "d.npy", "target": -1}, tmp_path)
    assert b.train.x.shape == (20, 2) and b.info["task"] == "multiclass"

    import h5py

    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["group/x"] = x
        f["labels"] = y
    b = data_bundle({"train": "d.h5", "features": "group/x", "target": "labels"}, tmp_path)
    np.testing.assert_array_equal(b.train.x, x)
    d = describe({"train": "d.h5", "features": "group/x", "target": "labels", "preprocessing": ["flatten"]}, tmp_path)
    assert d["inputs"] == {"input": (6,)} and d["outputs"]["output"]["n_classes"] == 4


def test_npz_and_npy_object_arrays_are_refused_without_unpickling(tmp_path, capsys):
    seqs = np.empty(3, dtype=object)
    seqs[:] = [[1, 2], [3], [4, 5, 6]]
    np.savez(tmp_path / "s.npz", x=seqs, y=np.array([0, 1, 0]))
    with pytest.raises(DataError, match=r"s.npz\[x\]: holds Python objects .* padded to one length"):
        data_bundle({"train": "s.npz", "preprocessing": ["pad_sequences"]}, tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = np.empty(1, dtype=object)
    bad[0] = Evil()
    np.savez(tmp_path / "evil.npz", x=bad, y=np.array([0]))
    np.save(tmp_path / "evil.npy", bad)
    for name in ("evil.npz", "evil.npy"):
        with pytest.raises(DataError, match="holds Python objects"):
            load_raw({"train": name}, tmp_path)
    assert "pwned" not in capsys.readouterr().out


def test_describe_csv_reads_categories(tmp_path):
    write(tmp_path / "t.csv", CSV)
    d = describe({"train": "t.csv", "target": "label", "target_preprocessing": ["one_hot"]}, tmp_path)
    assert d["inputs"] == {"input": (5,)}
    assert d["outputs"]["output"] == {"task": "binary", "n_classes": 2, "width": 2, "class_names": ["no", "yes"]}


def test_dataset_and_train_together_rejected(tmp_path):
    with pytest.raises(ConfigError, match="both set"):
        load_raw({"dataset": "iris", "train": "x.csv"}, tmp_path)
    with pytest.raises(ConfigError, match="needs `dataset`"):
        load_raw({}, tmp_path)


@pytest.mark.parametrize("labels, task", [
    ([0, 1], "binary"),
    ([1, 2], "binary"),  # two labels, three class indices (0 unused): training's rule, now describe's too
    ([0, 3, 7], "multiclass"),
    (list(range(20)), "multiclass"),  # 20 distinct whole numbers: still classes
    (list(range(21)), "regression"),  # 21: a quantity
    ([0.5, 1, 2], "regression"),
    ([-1, 0, 1], "regression"),
])
def test_describe_and_training_share_one_class_label_rule(tmp_path, labels, task):
    rows = "".join(f"{i},{labels[i % len(labels)]}\n" for i in range(2 * len(labels)))
    write(tmp_path / "t.csv", "x,y\n" + rows)
    spec = {"train": "t.csv", "target": "y"}
    described = describe(spec, tmp_path)["outputs"]["output"]
    trained = data_bundle(spec, tmp_path).info["outputs"]["output"]
    assert described["task"] == trained["task"] == task
    assert described["n_classes"] == trained["n_classes"]


TSV = ("a\tb\tcolor\tlabel\n1\t2\tred, dark\tyes\n2\t3\tblue\tno\n3\t5\tred, dark\tyes\n4\t4\tgreen\tno\n"
       "5\t1\tblue\tyes\n")


@pytest.mark.parametrize("name", ["train.tsv", "train.tsv.gz"])
def test_tsv_is_read_like_csv_with_tabs(tmp_path, name):
    import gzip

    data = TSV.encode()
    (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    b = data_bundle({"train": name, "target": "label"}, tmp_path)
    # a comma inside a TSV value is part of it: three colours, not a fourth column
    assert b.info["feature_names"]["input"] == ["a", "b", "color=blue", "color=green", "color=red, dark"]
    np.testing.assert_array_equal(b.train.x[0], [1, 2, 0, 0, 1])
    assert b.class_names == {"output": ["no", "yes"]}
    d = describe({"train": name, "target": "label", "target_preprocessing": ["one_hot"]}, tmp_path)
    assert d["inputs"] == {"input": (5,)}
    assert d["outputs"]["output"] == {"task": "binary", "n_classes": 2, "width": 2, "class_names": ["no", "yes"]}


@pytest.mark.parametrize("text, message", [
    ("x\ty\n1\t0\n2\t1\nabc\t0\n", r"t\.tsv: line 4 \(data row 3\), column 'x': 'abc' is not a number"),
    ("x\ty\n1\t0\n2\t1\t7\n", r"t\.tsv: line 3 \(data row 2\) has 3 values; the header has 2 columns"),
    ("x,y\n1,0\n", r"t\.tsv: no target column 'y'; the columns are: x,y"),  # commas: one column named "x,y"
])
def test_tsv_errors_name_line_and_column(tmp_path, text, message):
    write(tmp_path / "t.tsv", text)
    with pytest.raises(DataError, match=message):
        load_raw({"train": "t.tsv", "target": "y"}, tmp_path)


def test_unknown_suffix_lists_the_formats_with_the_closest(tmp_path):
    write(tmp_path / "t.cvs", CSV)
    with pytest.raises(DataError, match=r"t\.cvs: unknown data format '\.cvs' \(did you mean `\.csv`\?\); the formats: "
                                        r"csv \(\.csv, \.csv\.gz\), tsv \(\.tsv, \.tsv\.gz\), npy \(\.npy\)"):
        load_raw({"train": "t.cvs", "target": "label"}, tmp_path)
    with pytest.raises(DataError, match=r"t\.cvs: unknown data format"):
        describe({"train": "t.cvs", "target": "label"}, tmp_path)
    write(tmp_path / "lines.txt", "a review\n")
    with pytest.raises(DataError, match=r"lines\.txt: a \.txt file is read by `nntrain predict`, one document per"):
        load_raw({"train": "lines.txt"}, tmp_path)


def test_idx_table_trains_like_npy(tmp_path):
    table = np.column_stack([np.arange(12) % 5, np.arange(12) * 3 % 7, np.arange(12) % 3]).astype(np.uint8)
    (tmp_path / "t-idx2-ubyte.gz").write_bytes(idx_bytes(table))
    b = data_bundle({"train": "t-idx2-ubyte.gz", "target": -1}, tmp_path)
    np.testing.assert_array_equal(b.train.x, table[:, :2])
    assert b.info["task"] == "multiclass" and b.info["n_classes"] == 3
    d = describe({"train": "t-idx2-ubyte.gz", "target": -1}, tmp_path)
    assert d["inputs"] == {"input": (2,)} and d["outputs"]["output"]["n_classes"] == 3
