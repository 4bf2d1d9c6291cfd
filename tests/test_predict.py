"""`nntrain predict`: raw rows in, the training preprocessing applied, classes and probabilities out; streamed output
equals one-shot output; inputs that do not fit the model exit 2 naming what the model expects."""

from __future__ import annotations

import csv
import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import invoke

REPO = Path(__file__).resolve().parents[1]
CONFIGS = Path(__file__).resolve().parent / "configs"
IRIS = ["setosa", "versicolor", "virginica"]


def bundled_rows(name: str) -> tuple[list[str], list[list[str]]]:
    with gzip.open(REPO / "datasets" / f"{name}.csv.gz", "rt") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header] + rows)
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    """(run folder, CSV of the run's training rows with the dataset's columns, their labels)."""
    root = tmp_path_factory.mktemp("predict")
    r = invoke("fit", CONFIGS / "iris_small.yaml", "--runs-dir", root / "runs", "-q", cwd=root)
    assert r.returncode == 0, r.stderr
    run = root / "runs" / "iris_small"
    header, rows = bundled_rows("iris")
    with np.load(run / "splits.npz") as z:
        train = z["train"]
    picked = [rows[i] for i in train]
    return run, write_csv(root / "iris_train.csv", header, picked), [IRIS[int(r[-1])] for r in picked]


def test_training_csv_reproduces_the_training_set_accuracy(iris, tmp_path):
    run, train_csv, labels = iris
    r = invoke("predict", run, train_csv, "--output", tmp_path / "pred.csv", "--checkpoint", "last", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    predicted = [row["prediction"] for row in read_csv(tmp_path / "pred.csv")]
    assert len(predicted) == len(labels) == 96
    accuracy = sum(p == t for p, t in zip(predicted, labels)) / len(labels)
    r = invoke("evaluate", run, "--split", "train", "--checkpoint", "last", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report = json.loads((run / "evaluation-train-last.json").read_text())
    assert accuracy == report["metrics"]["accuracy"]


def test_probability_and_top_k_columns(iris, tmp_path):
    run, train_csv, _ = iris
    out = tmp_path / "pred.csv"
    r = invoke("predict", run, train_csv, "-o", out, "--proba", "--top-k", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = read_csv(out)
    assert list(rows[0]) == ["row", "prediction", "p_setosa", "p_versicolor", "p_virginica",
                             "top1", "top1_p", "top2", "top2_p"]
    assert [int(row["row"]) for row in rows] == list(range(96))
    for row in rows:
        p = {c: float(row[f"p_{c}"]) for c in IRIS}
        assert math.isclose(sum(p.values()), 1.0, abs_tol=1e-5)
        assert row["prediction"] == row["top1"] == max(p, key=p.get)
        assert float(row["top1_p"]) >= float(row["top2_p"]) == p[row["top2"]]


def test_npy_input_and_output_agree_with_csv(iris, tmp_path):
    run, train_csv, _ = iris
    features = np.array([[float(v) for v in list(row.values())[:4]] for row in read_csv(train_csv)])
    np.save(tmp_path / "x.npy", features)
    assert invoke("predict", run, tmp_path / "x.npy", "-o", tmp_path / "p.npy", "--proba", cwd=tmp_path).returncode == 0
    assert invoke("predict", run, train_csv, "-o", tmp_path / "p.csv", "--proba", cwd=tmp_path).returncode == 0
    probs = np.load(tmp_path / "p.npy")
    assert probs.shape == (96, 3) and probs.dtype == np.float32
    from_csv = np.array([[float(row[f"p_{c}"]) for c in IRIS] for row in read_csv(tmp_path / "p.csv")])
    np.testing.assert_allclose(probs, from_csv, rtol=1e-6)
    assert invoke("predict", run, tmp_path / "x.npy", "-o", tmp_path / "c.npy", cwd=tmp_path).returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), from_csv.argmax(axis=1))


def test_chunked_streaming_gives_the_same_predictions(iris, tmp_path):
    """Chunks of 7 rows (the last one short) against one chunk: identical files."""
    from nntrain.commands.predict import predict

    run, train_csv, _ = iris
    predict(run, train_csv, output=tmp_path / "one.csv", proba=True, chunk_rows=4096)
    predict(run, train_csv, output=tmp_path / "seven.csv", proba=True, chunk_rows=7)
    predict(run, train_csv, output=tmp_path / "seven.npy", proba=True, chunk_rows=7)
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "seven.csv").read_text()
    from_csv = np.array([[float(row[f"p_{c}"]) for c in IRIS] for row in read_csv(tmp_path / "one.csv")])
    np.testing.assert_allclose(np.load(tmp_path / "seven.npy"), from_csv, rtol=1e-6)


def test_piped_predictions_are_csv_on_stdout_whatever_the_row_count(iris, tmp_path):
    run, _, _ = iris
    header, rows = bundled_rows("iris")
    for count in (5, 150):
        path = write_csv(tmp_path / f"in{count}.csv", header[:4], [r[:4] for r in rows[:count]])
        r = invoke("predict", run, path, cwd=tmp_path)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "row,prediction" and len(lines) == count + 1 and lines[1] == "0,setosa"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in150.csv", "in5.csv"]  # no file beside the input


def test_regression_values_are_in_raw_target_units(tmp_path):
    """boston_small standardizes the target: predictions must come back in k$, matching evaluate's MAE."""
    r = invoke("fit", CONFIGS / "boston_small.yaml", "--runs-dir", tmp_path / "runs", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    run = tmp_path / "runs" / "boston_small"
    header, rows = bundled_rows("boston_housing")
    with np.load(run / "splits.npz") as z:
        test = [rows[i] for i in z["test"]]
    path = write_csv(tmp_path / "test.csv", header, test)
    r = invoke("predict", run, path, "-o", tmp_path / "pred.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    predicted = np.array([float(row["prediction"]) for row in read_csv(tmp_path / "pred.csv")])
    truth = np.array([float(row[-1]) for row in test])
    assert invoke("evaluate", run, cwd=tmp_path).returncode == 0
    report = json.loads((run / "evaluation-test-best.json").read_text())
    assert math.isclose(np.abs(predicted - truth).mean(), report["outputs"]["output"]["mae"], rel_tol=1e-6)
    r = invoke("predict", run, path, "--top-k", "2", cwd=tmp_path)
    assert r.returncode == 2 and "needs a classification model" in r.stderr


def test_inputs_that_do_not_fit_exit_2_naming_what_was_expected(iris, tmp_path):
    run, _, _ = iris
    header, rows = bundled_rows("wine")
    wine = write_csv(tmp_path / "wine.csv", header, rows[:10])
    cases = [
        # a CSV of another dataset: the model's columns are not there
        (["predict", run, wine], ["no feature column 'sepal_length'",
                                  "expects 4 feature columns ['sepal_length', 'sepal_width', 'petal_length'"]),
        # the right count of values but the wrong width as an array
        (["predict", run, _npy(tmp_path / "wide.npy", (5, 13))], ["expected 4 feature columns", "(5, 13)"]),
        (["predict", tmp_path / "missing_run", wine], ["no such run folder or checkpoint"]),
        (["predict", run, tmp_path / "absent.csv"], ["absent.csv: not found"]),
        (["predict", run, wine, "-o", tmp_path / "out.json"], ["must be a .csv, .jsonl or .npy file"]),
        (["predict", run, wine, "--top-k", "4"], ["--top-k expects 1..3"]),
    ]
    for args, messages in cases:
        r = invoke(*args, cwd=tmp_path)
        text = " ".join(r.stderr.split())
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and text.startswith("error:"), r.stderr
        for m in messages:
            assert m in text, (m, text)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.npy", "wine.csv"]  # no output left behind


def _npy(path: Path, shape) -> Path:
    np.save(path, np.ones(shape))
    return path


def test_a_checkpoint_of_another_model_rejects_the_data(iris, tmp_path):
    """A boston checkpoint given iris rows: the model wants 13 named columns and says so."""
    r = invoke("fit", CONFIGS / "boston_small.yaml", "--set", "training.epochs=1", "--runs-dir", tmp_path, "-q",
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    _, train_csv, _ = iris
    r = invoke("predict", tmp_path / "boston_small" / "checkpoints" / "last.h5", train_csv, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "expects 13 feature columns ['CRIM'" in " ".join(r.stderr.split())
