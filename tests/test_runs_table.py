"""`nntrain runs`: one row per run with the numbers its folder holds, sorted by a metric, statuses as written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nntrain.cli import app

from tests.helpers import invoke

CONFIGS = Path(__file__).resolve().parent / "configs"


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    """iris trained 1 and 10 epochs (the short one evaluated), boston (regression: mae) evaluated, a k-fold folder,
    a run that failed on NaN."""
    root = tmp_path_factory.mktemp("runs_table")
    runs = root / "runs"
    for name, epochs in (("short", 1), ("long", 10)):
        r = invoke("fit", CONFIGS / "iris_small.yaml", "--name", name, "--set", f"training.epochs={epochs}",
                   "--runs-dir", runs, "-q", cwd=root)
        assert r.returncode == 0, r.stderr
    assert invoke("evaluate", runs / "short", cwd=root).returncode == 0
    assert invoke("fit", CONFIGS / "boston_small.yaml", "--set", "training.epochs=2", "--runs-dir", runs, "-q",
                  cwd=root).returncode == 0
    assert invoke("evaluate", runs / "boston_small", cwd=root).returncode == 0
    r = invoke("kfold", CONFIGS / "iris_small.yaml", "--folds", "2", "--name", "cv", "--set", "training.epochs=2",
               "--runs-dir", runs, "-q", cwd=root)
    assert r.returncode == 0, r.stderr
    x = np.ones((20, 2))
    x[3, 0] = 1e20
    (root / "data.csv").write_text("a,b,y\n" + "".join(f"{a!r},{b!r},1.0\n" for a, b in x.tolist()))
    (root / "nan.yaml").write_text(
        "name: diverges\nseed: 1\ndata: {train: data.csv, target: y}\nmodel: {layers: [{Dense: {units: 1}}]}\n"
        "loss: mse\noptimizer: sgd\ntraining: {epochs: 3, batch_size: 4, validation_split: 0.2}\n")
    r = invoke("fit", root / "nan.yaml", "--runs-dir", runs, "-q", cwd=root)
    assert r.returncode == 1, r.stderr
    return runs


def test_rows_hold_what_the_run_folders_say(runs_dir):
    from nntrain.runs.table import list_runs

    rows = {r.name: r for r in list_runs(runs_dir)}
    assert set(rows) == {"short", "long", "boston_small", "cv", "diverges"}
    short, long, cv, diverges = rows["short"], rows["long"], rows["cv"], rows["diverges"]
    assert short.params == long.params == cv.params == 4 * 8 + 8 + 8 * 8 + 8 + 8 * 3 + 3
    assert (short.epochs, long.epochs, cv.epochs) == (1, 10, 2)
    assert short.dataset == "iris" and diverges.dataset == "data.csv"
    assert short.main == "accuracy" and diverges.main == "loss" and rows["boston_small"].main == "mae"
    # one epoch per run: here (no restore_best_weights) the one best.h5 holds, with all of its values
    best = json.loads((runs_dir / "long" / "metrics.json").read_text())["best_epoch"]
    assert long.epoch == best["epoch"] and not long.restored
    assert {k: long.metrics[k] for k in best["metrics"]} == best["metrics"]
    evaluation = json.loads((runs_dir / "short" / "evaluation-test-best.json").read_text())
    assert short.metrics["test_accuracy"] == evaluation["metrics"]["accuracy"] and "test_accuracy" not in long.metrics
    kfold = json.loads((runs_dir / "cv" / "kfold.json").read_text())
    assert cv.kind == "kfold x2" and cv.metrics["val_accuracy"] == kfold["metrics"]["val_accuracy"]["best_mean"]
    assert (short.status, cv.status, diverges.status) == ("finished", "finished", "failed")


def test_sorting_by_a_metric_puts_the_best_first(runs_dir):
    from nntrain.runs.table import list_runs

    by_loss = list_runs(runs_dir, sort="val_loss")
    values = [r.metrics.get("val_loss") for r in by_loss if r.name != "diverges"]
    assert values == sorted(values)  # losses: lowest first
    assert by_loss[-1].name == "diverges"  # its val_loss is not finite: last
    by_acc = [r.metrics.get("val_accuracy") for r in list_runs(runs_dir, sort="val_accuracy")[:3]]
    assert by_acc == sorted(by_acc, reverse=True)
    assert [r.name for r in list_runs(runs_dir, sort="epochs")][:1] == ["long"]
    assert [r.name for r in list_runs(runs_dir, sort="test_mae")][0] == "boston_small"


def _table(text: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a rich table printed off a terminal."""
    lines = [[cell.strip() for cell in line.split("┃" if "┃" in line else "│")[1:-1]]
             for line in text.splitlines() if "┃" in line or "│" in line]
    return lines[0], lines[1:]


def test_each_metric_has_its_own_column_for_every_row(runs_dir):
    result = CliRunner().invoke(app, ["runs", str(runs_dir), "--sort", "val_mae"])
    assert result.exit_code == 0, result.output
    header, rows = _table(result.stdout)
    assert {"val_loss", "val_accuracy", "val_mae", "test_loss", "test_accuracy", "test_mae"} <= set(header)
    by_name = {row[0]: dict(zip(header, row)) for row in rows}
    assert by_name["boston_small"]["val_accuracy"] == "-" and by_name["boston_small"]["val_mae"] != "-"
    assert by_name["long"]["val_mae"] == "-" and by_name["long"]["val_accuracy"] != "-"
    assert rows[0][0] == "boston_small"  # the only run with a val_mae sorts first


def test_json_lists_every_run_with_all_its_metrics(runs_dir):
    from nntrain.runs.table import list_runs

    result = CliRunner().invoke(app, ["runs", str(runs_dir), "--json", "--sort", "test_loss"])
    assert result.exit_code == 0 and result.stderr == ""
    listed = json.loads(result.stdout)
    assert [r["name"] for r in listed] == [r.name for r in list_runs(runs_dir, sort="test_loss")]
    boston = next(r for r in listed if r["name"] == "boston_small")
    assert {"loss", "mae", "val_loss", "val_mae", "test_loss", "test_mae"} <= set(boston["metrics"])
    assert boston["epochs"] == 2 and boston["status"] == "finished" and boston["restored_best_weights"] is False


def test_the_command_prints_the_table_and_marks_statuses(runs_dir, tmp_path):
    import shutil

    from nntrain.runs.table import list_runs

    r = invoke("runs", runs_dir, "--sort", "val_accuracy", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    names = [line.split("│")[1].strip() for line in r.stdout.splitlines() if "│" in line]
    assert names == [row.name if row.kind == "run" else f"{row.name} ({row.kind})"
                     for row in list_runs(runs_dir, sort="val_accuracy")]
    assert "failed" in r.stdout and "139" in r.stdout
    # a run stopped with Ctrl-C has status interrupted in run.json; the table shows it as written
    shutil.copytree(runs_dir / "short", tmp_path / "stopped")
    info = json.loads((tmp_path / "stopped" / "run.json").read_text())
    (tmp_path / "stopped" / "run.json").write_text(json.dumps({**info, "status": "interrupted"}))
    r = invoke("runs", tmp_path, cwd=tmp_path)
    assert r.returncode == 0 and "interrupted" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["runs", "no_runs_here"], "no such runs folder"),
    (["runs", "{runs}", "--sort", "val_auc"], "--sort 'val_auc': no run logged that metric"),
])
def test_bad_input_exits_2(runs_dir, tmp_path, args, message):
    r = invoke(*[a.format(runs=runs_dir) for a in args], cwd=tmp_path)
    assert r.returncode == 2 and message in " ".join(r.stderr.split()) and "Traceback" not in r.stderr


def test_a_run_whose_process_died_shows_as_killed(tmp_path):
    import shutil

    from nntrain.runs.table import list_runs

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    r = invoke("fit", CONFIGS / "iris_small.yaml", "--name", "gone", "--set", "training.epochs=1",
               "--runs-dir", tmp_path / "runs", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    run = tmp_path / "runs" / "gone"
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "status": "running", "pid": pid}))  # as after kill -9
    shutil.copytree(run, tmp_path / "runs" / "alive")
    alive = json.loads((tmp_path / "runs" / "alive" / "run.json").read_text())
    import os

    (tmp_path / "runs" / "alive" / "run.json").write_text(json.dumps({**alive, "pid": os.getpid()}))
    status = {row.name: row.status for row in list_runs(tmp_path / "runs")}
    assert status == {"gone": "killed", "alive": "running"}
