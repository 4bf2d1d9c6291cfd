"""`nntrain lr-find`: the learning-rate range test on configs whose good rates are known (iris with Adam, Boston
housing with RMSprop). The curve falls then rises, the sweep stops once the loss diverges, no run is created, and
a short fit with the suggested rate reaches the config's quality bar."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from nntrain.commands.lrfind import suggest
from tests.hardening import assert_user_error, invoke

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_iris_curve_falls_then_rises_and_the_suggestion_trains_to_the_bar(tmp_path):
    result = invoke("lr-find", CONFIGS / "iris.yaml", "--json", "--no-plot", "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    lrs, smoothed = np.array(doc["learning_rates"]), np.array(doc["smoothed"])
    assert len(lrs) == doc["steps"] == 100  # iris has 6 batches an epoch: the sweep takes at least 100 steps
    assert np.allclose(np.diff(np.log(lrs)), math.log(10 / 1e-6) / 99)  # geometric, 1e-6 -> 10
    low = int(np.argmin(smoothed))
    assert smoothed[low] < 0.8 * smoothed[10] and smoothed[-1] > 1.5 * smoothed[low]  # falls, then rises
    assert doc["method"] == "valley" and doc["suggested"] == doc["suggestions"]["valley"]
    assert 1e-6 < doc["suggested"] < lrs[low]  # below where the loss bottoms out
    assert doc["apply"] == f"--set optimizer.learning_rate={doc['suggested']:.3g}"
    assert not (tmp_path / "runs").exists()  # no run, not even a folder for one
    fitted = invoke("fit", CONFIGS / "iris.yaml", "--set", doc["apply"].removeprefix("--set "), "--runs-dir",
                    tmp_path / "runs", "-q")
    assert fitted.returncode == 0, fitted.stderr
    tested = json.loads(invoke("evaluate", fitted.stdout.strip(), "--json").stdout)
    assert tested["metrics"]["accuracy"] >= 0.93  # tests/test_quality.py's bar for iris


def test_a_diverging_sweep_stops_early_and_prints_how_to_apply(tmp_path):
    result = invoke("lr-find", CONFIGS / "boston_housing.yaml", "--no-plot", "--steps", "80")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    done = int(first.split(": ")[1].split(" of ")[0])
    assert "diverged at" in first and done < 80  # 4x the best smoothed loss ends the sweep
    assert "valley" in result.stdout and "steep" in result.stdout and "minimum/10" in result.stdout
    assert f"nntrain fit {CONFIGS / 'boston_housing.yaml'} --set optimizer.learning_rate=" in result.stdout


@pytest.mark.skipif(not os.environ.get("NNTRAIN_TUNE_TESTS"), reason="matplotlib: set NNTRAIN_TUNE_TESTS=1")
def test_the_png_goes_beside_the_runs_and_no_run_is_made(tmp_path):
    result = invoke("lr-find", CONFIGS / "iris.yaml", "--runs-dir", tmp_path / "runs", "--steps", "30")
    assert result.returncode == 0, result.stderr
    png = tmp_path / "runs" / "iris-lr-find.png"
    assert f"plot: {png}" in result.stdout and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["iris-lr-find.png"]


def test_suggestions_on_a_known_curve():
    lrs = np.geomspace(1e-5, 1, 60)
    x = np.log10(lrs)
    loss = 1 + np.where(x < -2, 0, -(x + 2) * 0.8) + np.where(x > -0.8, (x + 0.8) * 10, 0)  # flat, falls, climbs
    found = suggest(lrs, loss)
    assert 1e-2 < found["valley"] < 10 ** -0.8 and 1e-2 <= found["steep"] < 10 ** -0.8
    assert found["minimum/10"] == pytest.approx(lrs[int(np.argmin(loss))] / 10)


@pytest.mark.parametrize("args, fragment", [
    (["--start", "1", "--end", "0.1"], "need 0 < start < end"),
    (["--suggest", "valey"], "--suggest expects one of valley, steep, minimum/10"),
    (["--steps", "2"], "--steps expects at least 5 steps"),
])
def test_bad_options_are_user_errors(tmp_path, args, fragment):
    assert_user_error(invoke("lr-find", CONFIGS / "iris.yaml", "--no-plot", *args), fragment)
