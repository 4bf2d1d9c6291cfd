"""Checkpoints damaged or crafted by hand: `fit --resume`, `evaluate` and `predict` end with exit 2 and one
`error:` paragraph naming the file, and a refused resume leaves the run folder as it was."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from nntrain.cli.app import app
from tests.helpers import ROOT, refused

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    result = CliRunner().invoke(app, ["fit", str(ROOT / "configs" / "iris.yaml"), "--set", "training.epochs=2",
                                      "--runs-dir", str(root / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    return root / "runs" / "iris"


def _tree(f, group: str, change) -> None:
    tree = json.loads(f[group].attrs["json"])
    change(tree)
    f[group].attrs["json"] = json.dumps(tree)


def _replace(f, key: str, value) -> None:
    del f[key]
    f[key] = value


CRAFTED = {
    "format-version-text": (lambda f: f.attrs.__setitem__("format_version", "abc"), "format_version 'abc'"),
    "layer-as-dataset": (lambda f: _replace(f, "weights/dense", np.ones(3)), "weights/dense is a dataset"),
    "weights-as-text": (lambda f: _replace(f, "weights/dense/kernel", np.array([b"a"] * 16).reshape(4, 4)),
                        "weights/dense/kernel holds"),
    "preprocessing-index": (lambda f: _tree(f, "preprocessing", lambda t: t["inputs"]["input"]["steps"][0]["state"]
                                            .__setitem__("shift", {"__array__": 7})), "array reference 7"),
    "epoch-text": (lambda f: _tree(f, "training", lambda t: t.__setitem__("epoch", "x")), "no epoch number"),
    "dtype": (lambda f: f.attrs.__setitem__("dtype", "complex"), "dtype 'complex'"),
}
RESUME_ONLY = {
    "rng-garbage": (lambda f: _tree(f, "training", lambda t: t.__setitem__("shuffle_rng", {"state": "x"})),
                    "training state cannot be restored"),
    "rng-other-generator": (lambda f: _tree(f, "training", lambda t: t["model_rng"].__setitem__(
        "bit_generator", "MT19937")), "training state cannot be restored"),
    "history-garbage": (lambda f: _tree(f, "training", lambda t: t.__setitem__("history", 5)),
                        "training state cannot be restored"),
    "callback-state": (lambda f: _tree(f, "training", lambda t: t["callbacks"].__setitem__(
        "EarlyStopping", {"wait": "x"})), "training state cannot be restored"),
    "optimizer-iterations-text": (lambda f: _replace(f, "optimizer/state/iterations", np.array([b"x"])),
                                  "optimizer/state/iterations holds"),
    "optimizer-rate-vector": (lambda f: _replace(f, "optimizer/state/learning_rate", np.ones(3)),
                              "optimizer state cannot be restored"),
}


def crafted_copy(trained, tmp_path, craft) -> tuple:
    run = tmp_path / "runs" / "iris"
    shutil.copytree(trained, run)
    with h5py.File(run / "checkpoints" / "last.h5", "r+") as f:
        craft(f)
    shutil.copy(run / "checkpoints" / "last.h5", run / "checkpoints" / "best.h5")
    return run, {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


@pytest.mark.parametrize("case", sorted({**CRAFTED, **RESUME_ONLY}))
def test_a_crafted_checkpoint_cannot_be_resumed_and_changes_nothing(trained, tmp_path, case):
    craft, fragment = {**CRAFTED, **RESUME_ONLY}[case]
    run, before = crafted_copy(trained, tmp_path, craft)
    message = refused("fit", "--resume", run, "--set", "training.epochs=5")  # the run finished: extend it
    assert f"{run}/checkpoints/last.h5" in message and fragment in message, message
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # nothing rewritten


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_checkpoint_cannot_be_evaluated_or_used_to_predict(trained, tmp_path, case):
    craft, fragment = CRAFTED[case]
    run, _ = crafted_copy(trained, tmp_path, craft)
    message = refused("evaluate", run)
    assert f"{run}/checkpoints/best.h5" in message and fragment in message, message
    (tmp_path / "new.csv").write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n")
    assert fragment in refused("predict", run, tmp_path / "new.csv")
