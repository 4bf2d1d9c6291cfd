"""Rows in memory (the Python API's Run.predict) become exactly the model inputs `nntrain predict` reads from a file
with the same values: numeric and text columns, in any column order, extra columns ignored."""

from __future__ import annotations

import numpy as np
import pytest

from nntrain.data import Preprocessor, read_inputs
from nntrain.data.memory import raw_inputs
from nntrain.errors import DataError
from tests.data_helpers import data_bundle


@pytest.fixture
def pre(tmp_path):
    rows = "".join(f"{i},{i * 2 % 7},{['red', 'blue'][i % 2]},{i % 3}\n" for i in range(30))
    (tmp_path / "train.csv").write_text("a,b,color,label\n" + rows)
    b = data_bundle({"train": "train.csv", "target": "label", "preprocessing": ["standardize"]}, tmp_path)
    return Preprocessor.from_state(b.preprocessor.get_state())


def test_a_dict_of_columns_gives_what_a_csv_file_gives(pre, tmp_path):
    (tmp_path / "new.csv").write_text("color,b,a,note\nblue,3,1,x\nred,0,4,y\ngreen,2,2,z\n")
    (from_file,) = read_inputs(tmp_path / "new.csv", pre)
    columns = {"note": ["x", "y", "z"], "a": [1, 4, 2], "color": np.array(["blue", "red", "green"]), "b": [3.0, 0, 2]}
    np.testing.assert_array_equal(pre.transform_x(raw_inputs(pre, columns)), from_file)


def test_text_columns_cannot_come_as_a_numeric_array(pre):
    with pytest.raises(DataError, match=r"text columns \['color'\]; predict from a CSV file"):
        raw_inputs(pre, np.zeros((2, 3)))
    with pytest.raises(DataError, match=r"no column 'color'"):
        raw_inputs(pre, {"a": [1], "b": [2]})


def test_missing_values_in_memory_are_what_empty_cells_are_in_a_file(tmp_path):
    """None, NaN, pandas' NA and the strings a CSV calls missing reach the impute step as missing values, in a
    numeric column and a text one, exactly as empty cells of a file do."""
    rows = "".join(f"{i},{i * 2 % 7},{['red', 'blue'][i % 2]},{i % 3}\n" for i in range(30))
    (tmp_path / "train.csv").write_text("a,b,color,label\n" + rows)
    section = {"train": "train.csv", "target": "label",
               "preprocessing": [{"impute": {"strategy": "most_frequent", "add_indicator": True}}, "standardize"]}
    pre = Preprocessor.from_state(data_bundle(section, tmp_path).preprocessor.get_state())
    (tmp_path / "new.csv").write_text("a,b,color\n,3,\n2,NA,red\n4,1, ? \n")
    (from_file,) = read_inputs(tmp_path / "new.csv", pre)
    columns = {"a": [None, 2, 4], "b": [3.0, float("nan"), 1], "color": [float("nan"), "red", " ? "]}
    np.testing.assert_array_equal(pre.transform_x(raw_inputs(pre, columns)), from_file)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": pd.array([None, 2, 4], dtype="Int64"), "b": [3.0, None, 1.0],
                          "color": pd.array([None, "red", pd.NA], dtype="string")})
    np.testing.assert_array_equal(pre.transform_x(raw_inputs(pre, frame)), from_file)
