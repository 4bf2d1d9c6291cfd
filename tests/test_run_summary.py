"""Summaries tell the truth: when restore_best_weights keeps an earlier epoch, metrics.json, the end-of-run line
and the overfitting advice say what the model really holds; history.csv keeps every epoch."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from nntrain.cli import app
from nntrain.engine.layers import Dense, Dropout
from nntrain.training.callbacks import EarlyStopping
from nntrain.training.progress import TrainingWatch

ROOT = Path(__file__).resolve().parents[1]


def history(run: Path) -> list[dict]:
    with open(run / "history.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def test_early_stopped_run_reports_the_epoch_it_kept(tmp_path):
    result = CliRunner().invoke(app, ["fit", str(ROOT / "configs" / "iris.yaml"), "--set", "training.epochs=200",
                                      "--runs-dir", str(tmp_path), "--progress", "line"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "iris"
    rows = history(run)
    metrics = json.loads((run / "metrics.json").read_text())
    kept = metrics["kept"]
    best = min(rows, key=lambda r: r["val_loss"])  # early_stopping monitors val_loss, restore_best_weights: true
    assert len(rows) == metrics["epochs"] < 200  # stopped early; every epoch stays in history.csv
    assert kept["restored_best_weights"] and kept["epoch"] == int(best["epoch"]) < len(rows)
    assert kept["metrics"] == {k: best[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    assert metrics["final"]["val_loss"] == rows[-1]["val_loss"]  # "final" is still the last epoch
    assert metrics["best_epoch"] == {"monitor": "val_loss", "epoch": kept["epoch"], "value": best["val_loss"],
                                     "metrics": kept["metrics"]}
    line = next(line for line in result.stdout.splitlines() if line.startswith("finished after"))
    assert f"keeps the weights of epoch {kept['epoch']}" in line
    assert f"val_loss={best['val_loss']:.4f}" in line and f"val_loss={rows[-1]['val_loss']:.4f}" not in line


def test_a_run_without_restore_keeps_its_last_epoch(tmp_path):
    result = CliRunner().invoke(app, ["fit", str(ROOT / "tests" / "configs" / "iris_small.yaml"), "--runs-dir",
                                      str(tmp_path), "--progress", "none"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "iris_small" / "metrics.json").read_text())
    last = history(tmp_path / "iris_small")[-1]
    assert metrics["kept"]["epoch"] == 12 and not metrics["kept"]["restored_best_weights"]
    assert metrics["kept"]["metrics"]["val_loss"] == last["val_loss"]


def _overfit_warning(callbacks, layers) -> str:
    seen = []
    watch = TrainingWatch(seen.append)
    watch.trainer = SimpleNamespace(callbacks=SimpleNamespace(callbacks=callbacks),
                                    model=SimpleNamespace(layers=layers))
    for epoch, (loss, val_loss) in enumerate([(1.0, 0.5), (0.9, 0.6), (0.8, 0.7), (0.7, 0.8)]):
        watch.on_epoch_end(epoch, {"loss": loss, "val_loss": val_loss})
    assert len(seen) == 1 and "overfitting" in seen[0]
    return seen[0].split(": ", 1)[1]


@pytest.mark.parametrize("callbacks, layers, advised, not_advised", [
    ([], [Dense(4)], ["early_stopping with restore_best_weights", "dropout", "kernel_regularizer"], []),
    ([EarlyStopping(patience=20)], [Dense(4), Dropout(0.2)],
     ["restore_best_weights: true in early_stopping", "kernel_regularizer"], ["dropout", "early_stopping with"]),
    ([EarlyStopping(restore_best_weights=True)], [Dense(4, kernel_regularizer="l2"), Dropout(0.5)],
     ["smaller model"], ["consider"]),
])
def test_the_overfitting_advice_leaves_out_what_the_run_does(callbacks, layers, advised, not_advised):
    advice = _overfit_warning(callbacks, layers)
    for text in advised:
        assert text in advice, advice
    for text in not_advised:
        assert text not in advice, advice


@pytest.mark.parametrize("scaled, clipnorm, advice", [
    (False, None, "lower the learning rate, scale the inputs (standardize) or clip gradients (optimizer.clipnorm)"),
    (True, 1.0, "lower the learning rate"),
])
def test_the_nan_advice_leaves_out_what_the_run_does(scaled, clipnorm, advice):
    seen = []
    watch = TrainingWatch(seen.append, scaled_inputs=scaled)
    watch.trainer = SimpleNamespace(model=SimpleNamespace(optimizer=SimpleNamespace(clipnorm=clipnorm)))
    watch.on_epoch_end(2, {"loss": float("nan")})
    assert seen == [f"the training loss is nan at epoch 3: {advice}"]


def test_a_config_that_standardizes_is_known_to_scale_its_inputs():
    from nntrain.commands.fit import scales_inputs

    assert scales_inputs({"preprocessing": ["standardize"]})
    assert scales_inputs({"preprocessing": {"a": [{"min_max": {}}]}})
    assert not scales_inputs({"preprocessing": ["flatten"]}) and not scales_inputs({})
