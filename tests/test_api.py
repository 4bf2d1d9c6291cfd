"""The Python API (`import nntrain`): fit, load_run, Run.predict / evaluate / history, the engine re-exported, and an
import that stays cheap. Predictions must be the ones `nntrain predict` writes for the same rows."""

from __future__ import annotations

import csv
import gzip
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import nntrain
from tests.helpers import ROOT, invoke

CONFIG = ROOT / "tests" / "configs" / "iris_small.yaml"
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    """A 3-epoch iris run trained through nntrain.fit, and 12 raw rows of the bundled table as a CSV file."""
    root = tmp_path_factory.mktemp("api")
    run = nntrain.fit(CONFIG, overrides={"training.epochs": 3}, name="api_iris", runs_dir=root / "runs",
                      progress="none")
    with gzip.open(ROOT / "datasets" / "iris.csv.gz", "rt") as fp:
        rows = list(csv.reader(fp))
    picked = rows[1::13]
    (root / "rows.csv").write_text("\n".join(",".join(r) for r in [rows[0], *picked]) + "\n")
    values = np.array([[float(v) for v in r[:4]] for r in picked])
    return run, root, values


def test_fit_returns_the_run_with_its_overrides_applied(iris):
    run, root, _ = iris
    assert run.path == root / "runs" / "api_iris" and run.status == "finished"
    assert run.config["training"]["epochs"] == 3
    assert [h["epoch"] for h in run.history] == [1, 2, 3]
    with open(run.path / "history.csv", newline="") as fp:
        written = list(csv.DictReader(fp))
    assert [float(r["val_loss"]) for r in written] == [h["val_loss"] for h in run.history]
    pytest.importorskip("pandas")
    frame = run.history_frame()
    assert list(frame.index) == [1, 2, 3] and frame["loss"].tolist() == [h["loss"] for h in run.history]


def test_predict_matches_nntrain_predict_for_every_kind_of_rows(iris):
    pd = pytest.importorskip("pandas")
    run, root, values = iris
    r = invoke("predict", run.path, root / "rows.csv", "--proba", "-o", root / "cli.csv")
    assert r.returncode == 0, r.stderr
    with open(root / "cli.csv", newline="") as fp:
        cli = list(csv.DictReader(fp))
    classes = run.classes
    cli_probs = np.array([[float(row[f"p_{c}"]) for c in classes] for row in cli])
    columns = {c: values[:, i] for i, c in enumerate(COLUMNS)}
    frame = pd.DataFrame({**columns, "species": 0})  # a column the model does not read is ignored
    for rows in (frame, columns, values, {c: list(v) for c, v in columns.items()}):
        labels = run.predict(rows)
        assert list(labels) == [row["prediction"] for row in cli]
        probs = run.predict(rows, proba=True)
        assert probs.shape == (len(values), 3)
        np.testing.assert_allclose(probs, cli_probs, atol=1e-6)
    assert list(run.predict(values[0])) == [cli[0]["prediction"]]  # one row of raw values


def test_predict_refuses_rows_that_do_not_fit_naming_what_the_model_reads(iris):
    run, _, values = iris
    with pytest.raises(nntrain.DataError, match=r"no column 'petal_width' \(did you mean `petal_widht`"):
        run.predict({"sepal_length": [5.0], "sepal_width": [3.0], "petal_length": [1.0], "petal_widht": [0.2]})
    with pytest.raises(nntrain.DataError, match=r"expected 4 feature columns"):
        run.predict(values[:, :3])
    with pytest.raises(nntrain.DataError, match="not numbers"):
        run.predict({c: ["x"] for c in COLUMNS})


def test_evaluate_is_nntrain_evaluate(iris):
    run, _, _ = iris
    r = invoke("evaluate", run.path, "--json")
    assert r.returncode == 0, r.stderr
    cli = json.loads(r.stdout)
    report = run.evaluate()
    assert report["metrics"] == cli["metrics"] and report["epoch"] == 3
    matrix = np.array(report["outputs"]["output"]["confusion_matrix"])
    assert matrix.sum() == report["rows"] == 30
    assert report["metrics"]["accuracy"] == pytest.approx(np.trace(matrix) / 30)


def test_load_run_and_the_engine_classes(iris):
    run, _, values = iris
    again = nntrain.load_run(run.path, checkpoint="last")
    assert again.model.get_config() == run.model.get_config()
    assert isinstance(again.model, nntrain.Model)
    with pytest.raises(nntrain.CheckpointError, match="no such run folder"):
        nntrain.load_run(run.path / "nope")
    from nntrain.data.memory import raw_inputs
    from nntrain.layers import Dense

    assert nntrain.layers.Dense is Dense
    # the same architecture built by hand, given the run's weights, predicts what the run predicts
    model = nntrain.Sequential([Dense(8, activation="relu"), Dense(8, activation="relu"),
                                Dense(3, activation="softmax")], input_shape=[4])
    model.set_weights(run.model.get_weights())
    pre = run.trained.preprocessor
    (out,) = model.predict_on_batch([pre.transform_x(raw_inputs(pre, values))])
    np.testing.assert_allclose(out, run.predict(values, proba=True), atol=1e-6)


def test_import_is_cheap_and_help_names_the_api():
    code = "import sys, nntrain; print(sorted(m for m in ('numpy', 'nntrain.api', 'yaml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    import pydoc

    text = pydoc.render_doc(nntrain, renderer=pydoc.plaintext)
    assert "load_run" in text and "run.predict" in text


def test_the_readme_python_api_example_runs(tmp_path, monkeypatch, capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "iris.yaml").write_text((ROOT / "configs" / "iris.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "['setosa' 'virginica']" in out and "'accuracy'" in out and "Total params" in out
    assert (tmp_path / "iris.keras").is_file() and (tmp_path / "iris.preprocessing.json").is_file()
