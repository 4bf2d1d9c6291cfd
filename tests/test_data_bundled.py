"""Bundled datasets: shapes, classes, splits, and Keras's boston_housing split reproduced exactly."""

from pathlib import Path

import numpy as np
import pytest

from nntrain.data import describe, list_datasets, load_raw
from nntrain.errors import ConfigError
from tests.data_helpers import data_bundle

HERE = Path(".")


@pytest.mark.parametrize(
    "name, rows, features, n_classes, task",
    [
        ("iris", 150, 4, 3, "multiclass"),
        ("wine", 178, 13, 3, "multiclass"),
        ("breast_cancer", 569, 30, 2, "binary"),
        ("digits", 1797, 64, 10, "multiclass"),
    ],
)
def test_bundled_classification_shapes(name, rows, features, n_classes, task):
    b = data_bundle({"dataset": name}, HERE)
    n_test = int(round(0.2 * rows))
    assert b.train.x.shape == (rows - n_test, features)
    assert b.test.x.shape == (n_test, features)
    assert b.train.x.dtype == np.float32 and b.train.y.dtype == np.int32
    assert b.info["task"] == task and b.info["n_classes"] == n_classes
    assert len(b.class_names["output"]) == n_classes
    all_y = np.concatenate([b.train.y, b.test.y])
    assert set(np.unique(all_y)) == set(range(n_classes))
    # the test rows are a stratified, disjoint part of the file's rows
    assert not set(b.indices["train"]) & set(b.indices["test"])
    assert len(set(b.indices["train"]) | set(b.indices["test"])) == rows


def test_iris_values_and_names():
    raw = load_raw({"dataset": "iris", "test_split": 0}, HERE)
    x = raw.train.x["input"]
    assert x.names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    np.testing.assert_allclose([x.columns[c][0] for c in x.names], [5.1, 3.5, 1.4, 0.2])
    np.testing.assert_array_equal(np.bincount(raw.train.y["output"].astype(int)), [50, 50, 50])
    b = data_bundle({"dataset": "iris", "test_split": 0}, HERE)
    assert b.test is None and b.class_names == {"output": ["setosa", "versicolor", "virginica"]}


def test_stratified_test_split_keeps_proportions():
    b = data_bundle({"dataset": "iris"}, HERE)
    np.testing.assert_array_equal(np.bincount(b.test.y), [10, 10, 10])
    b = data_bundle({"dataset": "breast_cancer"}, HERE)
    # 212 malignant / 357 benign -> 114 test rows: 42 and 72 (rounded shares of 42.4 and 71.6)
    np.testing.assert_array_equal(np.bincount(b.test.y), [42, 72])


def test_test_split_is_deterministic_and_seeded():
    a = data_bundle({"dataset": "wine"}, HERE).indices["test"]
    b = data_bundle({"dataset": "wine"}, HERE).indices["test"]
    c = data_bundle({"dataset": "wine", "options": {"seed": 5}}, HERE).indices["test"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_boston_housing_matches_keras_split():
    b = data_bundle({"dataset": "boston_housing"}, HERE)
    assert b.train.x.shape == (404, 13) and b.test.x.shape == (102, 13)
    assert b.info["task"] == "regression" and b.train.y.dtype == np.float32
    # keras.datasets.boston_housing.load_data(): x_train[0], y_train[0], x_test[0], y_test[0]
    np.testing.assert_allclose(
        b.train.x[0], [1.23247, 0.0, 8.14, 0.0, 0.538, 6.142, 91.7, 3.9769, 4.0, 307.0, 21.0, 396.9, 18.72], rtol=1e-6
    )
    assert b.train.y[0] == pytest.approx(15.2)
    np.testing.assert_allclose(
        b.test.x[0], [18.0846, 0.0, 18.1, 0.0, 0.679, 6.434, 100.0, 1.8347, 24.0, 666.0, 20.2, 27.25, 29.05], rtol=1e-6
    )
    assert b.test.y[0] == pytest.approx(7.2)
    # the split is RandomState(113).shuffle of the row indices, first 404 train
    order = np.arange(506)
    np.random.RandomState(113).shuffle(order)
    np.testing.assert_array_equal(b.indices["train"], order[:404])
    np.testing.assert_array_equal(b.indices["test"], order[404:])


def test_boston_options_follow_keras_arguments():
    b = data_bundle({"dataset": "boston_housing", "options": {"test_split": 0.1, "seed": 7}}, HERE)
    order = np.arange(506)
    np.random.RandomState(7).shuffle(order)
    np.testing.assert_array_equal(b.indices["train"], order[: int(506 * 0.9)])


def test_bundled_column_selection():
    b = data_bundle({"dataset": "boston_housing", "features": ["RM", "LSTAT"]}, HERE)
    assert b.train.x.shape == (404, 2) and b.info["feature_names"]["input"] == ["RM", "LSTAT"]


def test_unknown_dataset_and_option():
    with pytest.raises(ConfigError, match="did you mean `iris`"):
        load_raw({"dataset": "irsi"}, HERE)
    with pytest.raises(ConfigError, match="no option 'num_words'") as exc:
        load_raw({"dataset": "iris", "options": {"num_words": 3}}, HERE)
    assert exc.value.path == ("data", "options", "num_words")


def test_list_datasets_and_describe_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("NNTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    rows = {d["name"]: d for d in list_datasets()}
    assert set(rows) == {"iris", "wine", "breast_cancer", "digits", "boston_housing", "mnist", "fashion_mnist",
                         "imdb", "reuters", "california_housing"}
    assert rows["iris"]["rows"] == 150 and rows["iris"]["cached"] and rows["iris"]["source"] == "bundled"
    assert rows["mnist"]["shape"] == (28, 28) and not rows["mnist"]["cached"]
    assert rows["boston_housing"]["split"] == {"train": 404, "test": 102}
    d = describe({"dataset": "digits", "preprocessing": [{"reshape": {"shape": [8, 8, 1]}}],
                  "target_preprocessing": ["one_hot"]}, HERE)
    assert d["inputs"] == {"input": (8, 8, 1)} and d["outputs"]["output"]["width"] == 10
    d = describe({"dataset": "fashion_mnist", "preprocessing": ["flatten"]}, HERE)
    assert d["inputs"] == {"input": (784,)} and d["outputs"]["output"]["class_names"][0] == "T-shirt/top"
    assert not (tmp_path / "cache").exists()  # nothing was downloaded
