"""Training results recorded before the package was restructured (tests/golden/*.json): the same config and seed
must give the same history and the same checkpoint weights, bit for bit, on the same machine.

Three runs cover the paths a restructuring could disturb: classification with Adam and a fitted scaler (iris),
regression with RMSprop and a standardized target (boston), and plain SGD on a kernel large enough for the fused
gradient-and-step product, with dropout, batch normalization, early stopping and a learning-rate plateau.
Regenerate (only when a change is meant to alter results): NNTRAIN_RECORD_GOLDEN=1 python -m pytest this file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from nntrain.cli import app
from tests.helpers import ROOT

GOLDEN = Path(__file__).parent / "golden"

SGD_WIDE = """\
name: sgd_wide
seed: 11
data: {train: wide.npz}
model:
  layers:
    - Dense: {units: 256, activation: relu}
    - BatchNormalization: {}
    - Dropout: {rate: 0.2}
    - Dense: {units: 4, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
optimizer: {name: sgd, learning_rate: 0.05}
training: {epochs: 6, batch_size: 32, validation_split: 0.25}
callbacks:
  - early_stopping: {monitor: val_accuracy, patience: 3, restore_best_weights: true}
  - reduce_lr_on_plateau: {patience: 1, factor: 0.5}
"""


def _wide_config(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((240, 300)).astype(np.float32)
    y = (x[:, :4] @ np.array([1.0, -1.0, 0.5, 2.0]) > 0).astype(np.int64) + 2 * (x[:, 4] > 0)
    np.savez(tmp_path / "wide.npz", x=x, y=y)
    (tmp_path / "sgd_wide.yaml").write_text(SGD_WIDE)
    return tmp_path / "sgd_wide.yaml"


CONFIGS = {
    "iris_small": lambda tmp: ROOT / "tests" / "configs" / "iris_small.yaml",
    "boston_small": lambda tmp: ROOT / "tests" / "configs" / "boston_small.yaml",
    "sgd_wide": _wide_config,
}


def _fingerprint(run_dir: Path) -> dict:
    """history.csv (all but the seconds column), and a SHA-256 of every weight array of both checkpoints."""
    rows = list(csv.DictReader((run_dir / "history.csv").open()))
    out = {"history": [{k: v for k, v in row.items() if k != "seconds"} for row in rows], "weights": {}}
    for name in ("last.h5", "best.h5"):
        with h5py.File(run_dir / "checkpoints" / name, "r") as f:
            def visit(key, obj, name=name):
                if isinstance(obj, h5py.Dataset):
                    a = np.ascontiguousarray(obj[()])
                    out["weights"][f"{name}/{key}"] = [str(a.dtype), list(a.shape),
                                                       hashlib.sha256(a.tobytes()).hexdigest()]
            f["weights"].visititems(visit)
    return out


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_training_results_are_unchanged(name, tmp_path):
    config = CONFIGS[name](tmp_path)
    runs_dir = tmp_path / "runs"
    result = CliRunner().invoke(app, ["fit", str(config), "--runs-dir", str(runs_dir), "--progress", "none"])
    assert result.exit_code == 0, result.output
    got = _fingerprint(runs_dir / name)
    path = GOLDEN / f"{name}.json"
    if os.environ.get("NNTRAIN_RECORD_GOLDEN"):
        path.write_text(json.dumps(got, indent=1) + "\n")
    want = json.loads(path.read_text())
    assert got["history"] == want["history"]
    assert got["weights"] == want["weights"]
