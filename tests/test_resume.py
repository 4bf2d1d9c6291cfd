"""`nntrain fit --resume` cannot damage a finished run: it refuses, says how to continue on purpose, and
`--set training.epochs=N` then trains exactly the epochs up to N. A config given with --resume must be the run's
own. (Exact resume of an interrupted run: tests/test_fit_cli.py.)"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from nntrain.cli import app

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "configs" / "iris_small.yaml"


def fit(*args):
    return CliRunner().invoke(app, ["fit", *map(str, args), "--progress", "none"])


def rows(run: Path) -> list[dict]:
    with open(run / "history.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def files(run: Path) -> dict:
    """The run's files and their bytes (hidden ones, such as a writer's lock file, aside)."""
    return {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def weights(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        out = {}
        f["weights"].visititems(lambda k, o: out.__setitem__(k, o[()]) if isinstance(o, h5py.Dataset) else None)
        return out


@pytest.fixture
def stopped(tmp_path) -> Path:
    """iris stopped by early stopping (patience 3, restore_best_weights) well before its 200 epochs."""
    config = tmp_path / "iris.yaml"
    config.write_text((ROOT / "configs" / "iris.yaml").read_text().replace("patience: 15", "patience: 3")
                      .replace("epochs: 60", "epochs: 200"))
    result = fit(config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    return tmp_path / "runs" / "iris"


def test_a_finished_run_is_not_resumed_by_accident(stopped):
    ran = len(rows(stopped))
    before = files(stopped)
    for extra in ([], ["--set", f"training.epochs={ran}"]):
        result = fit("--resume", stopped, *extra)
        assert result.exit_code == 2, result.output
        message = " ".join(result.stderr.split())
        assert "has finished (early stopping" in message and "--set training.epochs=" in message
    assert files(stopped) == before


def test_more_epochs_train_exactly_the_extra_ones_with_early_stopping_state(stopped):
    before = rows(stopped)
    ran = len(before)
    result = fit("--resume", stopped, "--set", f"training.epochs={ran + 2}")
    assert result.exit_code == 0, result.output
    after = rows(stopped)
    assert after[:ran] == before and [int(r["epoch"]) for r in after[ran:]] == [ran + 1, ran + 2]
    info = json.loads((stopped / "run.json").read_text())
    assert info["status"] == "finished" and info["resumes"][-1]["extends"] == "finished"
    # early stopping kept its best over every epoch: restore_best_weights picks it across the two parts
    best = min(after, key=lambda r: float(r["val_loss"]))
    assert json.loads((stopped / "metrics.json").read_text())["kept"]["epoch"] == int(best["epoch"])


def test_extending_a_completed_run_equals_training_longer_straight(tmp_path):
    assert fit(SMALL, "--runs-dir", tmp_path, "--name", "straight", "--set", "training.epochs=6").exit_code == 0
    assert fit(SMALL, "--runs-dir", tmp_path, "--name", "extended", "--set", "training.epochs=4").exit_code == 0
    assert fit("--resume", tmp_path / "extended").exit_code == 2
    result = fit("--resume", tmp_path / "extended", "--set", "training.epochs=6")
    assert result.exit_code == 0, result.output
    assert rows(tmp_path / "extended") == rows(tmp_path / "straight")
    a, b = (weights(tmp_path / run / "checkpoints" / "last.h5") for run in ("straight", "extended"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_a_config_given_with_resume_must_be_the_runs_own(stopped):
    config = stopped.parent.parent / "iris.yaml"
    before = files(stopped)
    other = fit(ROOT / "configs" / "wine.yaml", "--resume", stopped, "--set", "training.epochs=300")
    assert other.exit_code == 2
    message = " ".join(other.stderr.split())
    assert "is not the config of" in message and "data.dataset ('wine'" in message and "'iris' in the run" in message
    edited = config.with_name("edited.yaml")
    edited.write_text(config.read_text().replace("patience: 3", "patience: 4"))
    changed = fit(edited, "--resume", stopped, "--set", "training.epochs=300")
    assert changed.exit_code == 2 and "callbacks.0.patience (4 in" in " ".join(changed.stderr.split())
    for option, value in (("--name", "other"), ("--weights", stopped / "checkpoints" / "best.h5")):
        refused = fit("--resume", stopped, option, value, "--set", "training.epochs=300")
        assert refused.exit_code == 2 and f"{option} applies to a new run" in refused.stderr
    assert files(stopped) == before
    same = fit(config, "--resume", stopped, "--set", f"training.epochs={len(rows(stopped)) + 1}")
    assert same.exit_code == 0, same.output
