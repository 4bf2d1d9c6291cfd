"""Quality bars on the bundled data: each example config reaches its figure on the held-out test split.

The configs in configs/ are run as they are (they take a second or two each on 2 cores)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nntrain.commands.fit import fit
from nntrain.commands.prepare import load_bundle
from nntrain.training.loop import evaluate

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

BARS = [
    ("iris", "accuracy", ">=", 0.93),
    ("wine", "accuracy", ">=", 0.94),
    ("breast_cancer", "accuracy", ">=", 0.95),
    ("digits", "accuracy", ">=", 0.95),
    ("boston_housing", "mae", "<=", 3.2),
    ("xor", "accuracy", ">=", 1.0),
]


@pytest.mark.parametrize("name,metric,op,bar", BARS, ids=[b[0] for b in BARS])
def test_example_config_reaches_its_bar_on_the_test_split(tmp_path, name, metric, op, bar):
    seen = {}
    fit(CONFIGS / f"{name}.yaml", runs_dir=tmp_path, on_start=lambda run_dir, cfg, model: seen.update(cfg=cfg,
                                                                                                    model=model))
    bundle = load_bundle(seen["cfg"])
    value = evaluate(seen["model"], bundle.test.x, bundle.test.y, batch_size=64)[metric]
    assert (value >= bar) if op == ">=" else (value <= bar), f"{name}: test {metric} = {value:.4f}"
