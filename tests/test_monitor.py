"""One monitor rule: every registered metric has a direction, and every consumer (early_stopping,
reduce_lr_on_plateau, model_checkpoint, best.h5, metrics.json "best", kfold's best epoch, `nntrain runs` sorting)
reads it the same way."""

from __future__ import annotations

import json

import h5py
import pytest
from typer.testing import CliRunner

from nntrain.cli import app
from nntrain.engine import monitor
from nntrain.engine.metrics import METRICS
from nntrain.commands.recorder import summarize_history
from nntrain.commands.kfold import summarize
from nntrain.training.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau

HIGHER_IS_BETTER = {"accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "r2", "precision",
                    "recall", "auc"}
LOWER_IS_BETTER = {"mae", "mse", "rmse"}

# a curve whose best epoch is 3 when higher is better and 2 when lower is
CURVE = [0.5, 0.2, 0.9, 0.4]


def _keys(spelling):
    return [spelling, f"val_{spelling}", f"out_a_{spelling}", f"val_main_{spelling}"]


def test_every_registered_metric_declares_the_expected_direction():
    assert set(METRICS.names()) == HIGHER_IS_BETTER | LOWER_IS_BETTER, "a new metric needs a row in this test"
    for name in METRICS.names():
        assert METRICS.get(name).direction == ("up" if name in HIGHER_IS_BETTER else "down"), name


@pytest.mark.parametrize("spelling", METRICS.names(aliases=True))
def test_all_consumers_agree_for_every_metric_and_alias(spelling):
    want = METRICS.get(spelling).direction
    for key in _keys(spelling):
        assert monitor.direction(key) == want, key
        for cb in (EarlyStopping(monitor=key), ReduceLROnPlateau(monitor=key), ModelCheckpoint("x.h5", monitor=key)):
            assert cb.direction == want, (type(cb).__name__, key)
        best_epoch = 3 if want == "up" else 2
        _, best = summarize_history({key: CURVE})
        assert best[key]["epoch"] == best_epoch, key
        folds = [{"status": "finished", "history": {key: CURVE}, "final": {}, "best": {}}] * 2
        assert summarize(folds, key)["best_epoch"]["epoch"] == best_epoch, key


def test_losses_go_down_and_unknown_names_follow_keras_default():
    for key in ("loss", "val_loss", "out_a_loss", "val_main_loss"):
        assert monitor.direction(key) == "down"
    assert monitor.direction("val_my_custom_score") == "down"


def test_explicit_mode_wins_and_ties_keep_the_first_epoch():
    assert EarlyStopping(monitor="val_loss", mode="max").direction == "up"
    assert monitor.best_epoch([0.1, 0.3, 0.3, float("nan")], "up") == (0.3, 1)
    assert monitor.best_epoch([float("nan")], "down") is None
    assert not monitor.is_improvement(0.505, 0.5, "up", min_delta=0.01)
    assert monitor.is_improvement(0.49, 0.5, "down", min_delta=-0.005)  # |min_delta|, as Keras


R2_CONFIG = """\
name: r2run
seed: 4
data:
  dataset: boston_housing
  preprocessing: [standardize]
  target_preprocessing: [standardize]
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 1}
loss: mse
metrics: [r2_score, mae]
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: 12, batch_size: 64, validation_split: 0.2}
callbacks:
  - early_stopping: {monitor: val_r2_score, patience: 50, restore_best_weights: true}
"""


def test_r2_is_maximised_by_best_h5_metrics_json_and_the_runs_table(tmp_path):
    (tmp_path / "r2.yaml").write_text(R2_CONFIG)
    runner = CliRunner()
    for name in ("a", "b"):
        result = runner.invoke(app, ["fit", str(tmp_path / "r2.yaml"), "--runs-dir", str(tmp_path / "runs"),
                                     "--name", name, "--progress", "none",
                                     "--set", f"training.epochs={12 if name == 'a' else 2}"])
        assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "a"
    rows = (run / "history.csv").read_text().splitlines()
    col = rows[0].split(",").index("val_r2_score")
    curve = [float(r.split(",")[col]) for r in rows[1:]]
    best = max(range(len(curve)), key=lambda i: (curve[i], -i))  # first epoch holding the maximum
    assert curve[best] > curve[0], "the run must improve for the test to mean anything"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["best"]["val_r2_score"]["epoch"] == best + 1
    with h5py.File(run / "checkpoints" / "best.h5", "r") as f:
        assert json.loads(f["training"].attrs["json"])["epoch"] == best + 1
    table = runner.invoke(app, ["runs", str(tmp_path / "runs"), "--sort", "val_r2_score"])
    assert table.exit_code == 0, table.output
    a_line = next(i for i, line in enumerate(table.output.splitlines()) if " a " in f" {line} ")
    b_line = next(i for i, line in enumerate(table.output.splitlines()) if " b " in f" {line} ")
    assert a_line < b_line, table.output  # 12 epochs reach a higher R² than 2: best first
