"""`nntrain evaluate`: the numbers must be the ones `nntrain fit` logged for the same rows and weights, reports must be
consistent with their own confusion matrix, and bad input exits 2 without a traceback."""

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


def history(run: Path) -> list[dict]:
    with open(run / "history.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("evaluate")
    r = invoke("fit", CONFIGS / "iris_small.yaml", "--runs-dir", root / "runs", "-q", cwd=root)
    assert r.returncode == 0, r.stderr
    return root / "runs" / "iris_small"


@pytest.fixture(scope="module")
def boston_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("evaluate_boston")
    r = invoke("fit", CONFIGS / "boston_small.yaml", "--runs-dir", root / "runs", "-q", cwd=root)
    assert r.returncode == 0, r.stderr
    return root / "runs" / "boston_small"


def test_val_split_of_last_checkpoint_equals_last_logged_epoch(iris_run):
    r = invoke("evaluate", iris_run, "--split", "val", "--checkpoint", "last", cwd=iris_run)
    assert r.returncode == 0, r.stderr
    report = json.loads((iris_run / "evaluation-val-last.json").read_text())
    last = history(iris_run)[-1]
    assert report["epoch"] == int(last["epoch"]) == 12
    assert report["rows"] == 24 and report["batch_size"] == 16
    # exactly, not approximately: same rows, order, batch size and code path as the validation pass of fit
    assert report["metrics"] == {"loss": last["val_loss"], "accuracy": last["val_accuracy"]}


def test_best_checkpoint_equals_its_logged_epoch(iris_run):
    r = invoke("evaluate", iris_run, "--split", "val", cwd=iris_run)
    assert r.returncode == 0, r.stderr
    report = json.loads((iris_run / "evaluation-val-best.json").read_text())
    rows = history(iris_run)
    best = min(rows, key=lambda row: row["val_loss"])
    assert report["checkpoint"] == "best" and report["epoch"] == int(best["epoch"])
    assert report["metrics"] == {"loss": best["val_loss"], "accuracy": best["val_accuracy"]}


def test_test_report_is_consistent_and_kept_beside_other_evaluations(iris_run):
    r = invoke("evaluate", iris_run, cwd=iris_run)
    assert r.returncode == 0, r.stderr
    assert "confusion matrix" in r.stdout and "virginica" in r.stdout
    report = json.loads((iris_run / "evaluation-test-best.json").read_text())
    out = report["outputs"]["output"]
    cm = np.array(out["confusion_matrix"])
    assert out["class_names"] == ["setosa", "versicolor", "virginica"]
    assert cm.sum() == report["rows"] == 30
    assert cm.sum(axis=1).tolist() == [c["support"] for c in out["per_class"]] == [10, 10, 10]
    assert math.isclose(np.trace(cm) / cm.sum(), report["metrics"]["accuracy"], rel_tol=1e-12)
    for i, c in enumerate(out["per_class"]):
        assert math.isclose(c["recall"], cm[i, i] / cm[i].sum())
        if cm[:, i].sum():
            assert math.isclose(c["precision"], cm[i, i] / cm[:, i].sum())
    # the evaluations of other splits / checkpoints are still there, each with its own numbers
    val_last = json.loads((iris_run / "evaluation-val-last.json").read_text())
    assert val_last["split"] == "val" and val_last["rows"] == 24


def test_data_file_gives_the_same_numbers_as_the_split(iris_run, tmp_path):
    """--data with the test rows written to a CSV of the training layout equals --split test."""
    with gzip.open(REPO / "datasets" / "iris.csv.gz", "rt") as f:
        rows = list(csv.reader(f))
    with np.load(iris_run / "splits.npz") as z:
        test_rows = z["test"]
    path = tmp_path / "iris_test.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([rows[0]] + [rows[1 + i] for i in test_rows])
    assert invoke("evaluate", iris_run, "--checkpoint", "last", cwd=tmp_path).returncode == 0
    r = invoke("evaluate", iris_run, "--checkpoint", "last", "--data", path, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from_split = json.loads((iris_run / "evaluation-test-last.json").read_text())
    from_file = json.loads((iris_run / "evaluation-data-iris_test-last.json").read_text())
    assert from_file["metrics"] == from_split["metrics"]
    assert from_file["outputs"] == from_split["outputs"]


def test_regression_report_in_raw_target_units(boston_run):
    r = invoke("evaluate", boston_run, "--checkpoint", "last", cwd=boston_run)
    assert r.returncode == 0, r.stderr
    assert "RMSE" in r.stdout
    report = json.loads((boston_run / "evaluation-test-last.json").read_text())
    out = report["outputs"]["output"]
    assert report["rows"] == 102 and out["task"] == "regression" and out["units"] == "raw target"
    assert math.isclose(out["rmse"], math.sqrt(out["mse"]))
    # the target was standardized: the engine's mae is in standard deviations, the report's in k$
    from nntrain.runs.checkpoint import load

    step = load(boston_run / "checkpoints" / "last.h5").preprocessing["outputs"]["output"]["steps"][0]
    scale = float(np.asarray(step["state"]["scale"]).reshape(-1)[0])
    assert math.isclose(out["mae"], report["metrics"]["mae"] * scale, rel_tol=1e-4)
    assert out["r2"] < 1.0


def test_kfold_fold_folders_and_checkpoint_files_are_accepted(iris_run):
    ckpt = iris_run / "checkpoints" / "last.h5"
    r = invoke("evaluate", ckpt, "--split", "val", cwd=iris_run)
    assert r.returncode == 0, r.stderr
    report = json.loads((iris_run / "evaluation-val-last.json").read_text())
    assert report["metrics"]["loss"] == history(iris_run)[-1]["val_loss"]


@pytest.mark.parametrize("args, message", [
    (["evaluate", "no/such/run"], "no such run folder or checkpoint"),
    (["evaluate", "{run}", "--split", "validation"], "--split expects one of test, val, train"),
    (["evaluate", "{run}", "--checkpoint", "first"], "--checkpoint expects one of best, last"),
    (["evaluate", "{run}", "--data", "nowhere.csv"], "nowhere.csv: not found"),
    (["evaluate", "{boston}", "--data", str(REPO / "datasets" / "iris.csv.gz")], "no target column"),
    (["evaluate", "{run}/checkpoints"], "not a run folder"),
])
def test_bad_input_exits_2_with_one_message(iris_run, boston_run, tmp_path, args, message):
    args = [a.format(run=iris_run, boston=boston_run) for a in args]
    r = invoke(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in " ".join(r.stderr.split()), r.stderr
    assert "Traceback" not in r.stderr and r.stderr.strip().startswith("error:")


def test_split_the_run_does_not_have(tmp_path):
    r = invoke("fit", CONFIGS / "iris_small.yaml", "--set", "training.validation_split=0", "--runs-dir", tmp_path,
               "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = invoke("evaluate", tmp_path / "iris_small", "--split", "val", cwd=tmp_path)
    assert r.returncode == 2 and "no validation split" in r.stderr and "Traceback" not in r.stderr
    # without a validation set there is no best.h5: evaluate says so and uses last.h5
    r = invoke("evaluate", tmp_path / "iris_small", cwd=tmp_path)
    assert r.returncode == 0 and "used last.h5" in r.stdout
    assert (tmp_path / "iris_small" / "evaluation-test-last.json").exists()


def test_each_split_names_the_file_it_came_from(tmp_path):
    from typer.testing import CliRunner

    from nntrain.cli import app

    rng = np.random.default_rng(0)
    for name, rows in (("train.csv", 60), ("holdout.csv", 20)):
        x = rng.standard_normal((rows, 2)).tolist()
        lines = [f"{a!r},{b!r},{int(a > 0)}" for a, b in x]
        (tmp_path / name).write_text("a,b,label\n" + "\n".join(lines) + "\n")
    (tmp_path / "c.yaml").write_text(
        "name: src\nseed: 1\ndata: {train: train.csv, test: holdout.csv, target: label}\n"
        "model: {layers: [{Dense: {units: 2, activation: softmax}}]}\nloss: sparse_categorical_crossentropy\n"
        "optimizer: adam\ntraining: {epochs: 1, validation_split: 0.25}\n")
    runner = CliRunner()
    assert runner.invoke(app, ["fit", str(tmp_path / "c.yaml"), "--runs-dir", str(tmp_path / "runs"),
                               "-q"]).exit_code == 0
    run = tmp_path / "runs" / "src"
    test = runner.invoke(app, ["evaluate", str(run)])
    assert test.exit_code == 0, test.output
    assert f"test split from {tmp_path / 'holdout.csv'}: 20 rows" in test.stdout
    report = json.loads((run / "evaluation-test-best.json").read_text())
    assert report["source"] == str(tmp_path / "holdout.csv")
    val = runner.invoke(app, ["evaluate", str(run), "--split", "val"])
    assert f"val split of {tmp_path / 'train.csv'}: 15 rows" in val.stdout
