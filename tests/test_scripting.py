"""nntrain in shell scripts, through real processes: `--json` puts one JSON document on stdout and nothing else
(progress, warnings and messages go to stderr), `-q` prints exactly the run folder, exit codes say how it ended."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nntrain.cli import app
from tests.helpers import run_process

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "configs" / "iris_small.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    """iris stopped early (restore_best_weights) by `fit --json`: (cwd, the document)."""
    cwd = tmp_path_factory.mktemp("scripting")
    r = run_process("fit", ROOT / "configs" / "iris.yaml", "--json", "--set", "training.epochs=200", cwd=cwd)
    assert r.returncode == 0, r.stderr
    return cwd, json.loads(r.stdout)  # the whole of stdout is one document


def test_fit_json_is_the_whole_of_stdout(trained):
    cwd, doc = trained
    run = cwd / doc["run_dir"]
    assert doc["status"] == "finished" and doc["exit_code"] == 0 and doc["epochs"] < 200
    assert doc["kept"]["restored_best_weights"] and doc["kept"]["epoch"] == doc["best_epoch"]["epoch"]
    assert doc["message"].startswith("early stopping")
    on_disk = json.loads((run / "metrics.json").read_text())
    assert {k: doc[k] for k in on_disk} == on_disk


def test_progress_and_messages_go_to_stderr_with_json(tmp_path):
    r = run_process("fit", SMALL, "--json", "--progress", "line", "--runs-dir", tmp_path, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["run_dir"] == str(tmp_path / "iris_small")
    assert "Epoch 12/12" in r.stderr and "run folder:" in r.stderr


def test_quiet_prints_exactly_the_run_folder(trained):
    cwd, doc = trained
    r = run_process("fit", ROOT / "configs" / "iris.yaml", "-q", "--set", "training.epochs=200", cwd=cwd)
    assert r.returncode == 0
    assert r.stdout == f"{Path(doc['run_dir']).parent / 'iris-2'}\n" and r.stderr == ""  # no early-stopping line


def test_user_errors_leave_stdout_empty_and_exit_2(tmp_path):
    r = run_process("fit", "missing.yaml", "--json", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.startswith("error:")
    r = run_process("evaluate", tmp_path / "no_run", "--json", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""


def test_evaluate_kfold_runs_and_datasets_json(trained, tmp_path):
    cwd, doc = trained
    r = run_process("evaluate", doc["run_dir"], "--json", cwd=cwd)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["split"] == "test" and report["rows"] == 30 and set(report["metrics"]) == {"loss", "accuracy"}
    assert report == {**json.loads((cwd / report["path"]).read_text()), "path": report["path"]}
    r = run_process("kfold", SMALL, "-k", "2", "--json", "--set", "training.epochs=2", "--runs-dir", tmp_path, cwd=cwd)
    assert r.returncode == 0, r.stderr
    kfold = json.loads(r.stdout)
    assert kfold["status"] == "finished" and kfold["folds"] == 2 and "val_accuracy" in kfold["metrics"]
    assert "fold 2: finished" in r.stderr
    listed = json.loads(run_process("runs", cwd / "runs", "--json", cwd=cwd).stdout)
    assert {r["name"] for r in listed} == {"iris", "iris-2"}
    assert next(r for r in listed if r["name"] == "iris")["metrics"]["test_accuracy"] == report["metrics"]["accuracy"]
    names = {d["name"] for d in json.loads(run_process("datasets", "--json", cwd=cwd).stdout)}
    assert {"iris", "mnist"} <= names


def test_progress_none_still_says_where_the_run_is(tmp_path):
    result = CliRunner().invoke(app, ["fit", str(SMALL), "--progress", "none", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [result.stdout.splitlines()[0], f"run folder: {tmp_path / 'iris_small'}"]
    assert result.stdout.startswith("finished after 12 epochs: loss=")
