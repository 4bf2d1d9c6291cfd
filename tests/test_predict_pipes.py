"""`nntrain predict` in pipelines: CSV with a header on stdout whenever it is not a terminal (or with `-o -`),
`--format csv|jsonl|npy`, `--keep COLUMN` carrying an id through, a `--json` summary, and options that do not apply
to the task (or to the format) refused with exit 2 before anything is written."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nntrain.cli import app
from tests.helpers import run_process

CONFIGS = Path(__file__).resolve().parent / "configs"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def iris(tmp_path_factory) -> tuple[Path, Path]:
    """(run folder, a CSV of 6 flowers with an id and a name column first, and a blank line in the middle)."""
    root = tmp_path_factory.mktemp("pipes")
    assert CliRunner().invoke(app, ["fit", str(CONFIGS / "iris_small.yaml"), "--runs-dir", str(root),
                                    "-q"]).exit_code == 0
    flowers = [[5.1, 3.5, 1.4, 0.2], [6.3, 2.9, 5.6, 1.8], [5.0, 3.4, 1.5, 0.2],
               [6.7, 3.1, 4.4, 1.4], [4.9, 3.0, 1.4, 0.2], [7.7, 2.6, 6.9, 2.3]]
    lines = ["id,name," + ",".join(FEATURES)] + [f"id-{i},flower {i}," + ",".join(map(str, f))
                                                 for i, f in enumerate(flowers)]
    path = root / "flowers.csv"
    path.write_text("\n".join(lines[:4] + [""] + lines[4:]) + "\n")
    return root / "iris_small", path


def test_stdout_gets_csv_with_the_kept_columns(iris):
    run, flowers = iris
    r = run_process("predict", run, flowers, "-o", "-", "--keep", "id,name", "--proba", cwd=flowers.parent)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == ["row", "id", "name", "prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert [row["id"] for row in rows] == [f"id-{i}" for i in range(6)]  # the blank line skipped alike
    assert rows[5]["name"] == "flower 5" and rows[0]["prediction"] == "setosa"


def test_jsonl_and_npy_on_stdout(iris):
    run, flowers = iris
    r = run_process("predict", run, flowers, "--format", "jsonl", "--keep", "id", cwd=flowers.parent)
    assert r.returncode == 0, r.stderr
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["id"] for o in objects] == [f"id-{i}" for i in range(6)] and set(objects[0]) == {"row", "id",
                                                                                                 "prediction"}
    import subprocess
    import sys

    raw = subprocess.run([sys.executable, "-m", "nntrain.cli", "predict", str(run), str(flowers), "--format", "npy",
                          "--proba"], capture_output=True, timeout=300, check=False)
    assert raw.returncode == 0, raw.stderr
    probs = np.load(io.BytesIO(raw.stdout))
    assert probs.shape == (6, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_json_summary_with_a_file(iris, tmp_path):
    run, flowers = iris
    out = tmp_path / "p.jsonl"
    result = CliRunner().invoke(app, ["predict", str(run), str(flowers), "-o", str(out), "--keep", "id", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 6 and summary["format"] == "jsonl" and summary["columns"] == ["row", "id",
                                                                                             "prediction"]
    assert len(out.read_text().splitlines()) == 6 and "6 predictions written to" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--json"], "give -o FILE for the predictions"),
    (["--format", "xml"], "--format expects one of csv, jsonl, npy"),
    (["--keep", "id", "--format", "npy", "-o", "p.npy"], "an .npy array cannot hold"),
    (["--proba", "--top-k", "2", "-o", "p.npy"], "give --proba (probabilities) or --top-k"),
    (["--keep", "ID"], "--keep 'ID': "),
    (["--keep", "prediction"], "--keep 'prediction': "),
    (["--top-k", "0"], "--top-k expects a positive number"),
])
def test_options_that_do_not_apply_exit_2(iris, tmp_path, args, message):
    run, flowers = iris
    result = CliRunner().invoke(app, ["predict", str(run), str(flowers), *args])
    assert result.exit_code == 2 and message in " ".join(result.stderr.split()), result.output
    assert result.stdout == ""


def test_regression_refuses_class_options_and_keep_needs_columns(tmp_path):
    assert CliRunner().invoke(app, ["fit", str(CONFIGS / "boston_small.yaml"), "--set", "training.epochs=1",
                                    "--runs-dir", str(tmp_path), "-q"]).exit_code == 0
    np.save(tmp_path / "x.npy", np.zeros((3, 13)))
    run = str(tmp_path / "boston_small")
    for args, message in ((["--proba"], "--proba needs a model that predicts classes"),
                          (["--keep", "id"], "--keep carries columns of a .csv or .tsv input")):
        result = CliRunner().invoke(app, ["predict", run, str(tmp_path / "x.npy"), *args])
        assert result.exit_code == 2 and message in " ".join(result.stderr.split()), result.output
    ok = CliRunner().invoke(app, ["predict", run, str(tmp_path / "x.npy")])
    assert ok.exit_code == 0 and ok.stdout.splitlines()[0] == "row,prediction" and len(ok.stdout.splitlines()) == 4
