"""`nntrain tune`: real Optuna studies on bundled iris, every trial a real run folder.

The default run trains one small search (in this process) and checks what a user sees of it. The slower checks
(a SIGINT to a real process and --resume, --jobs 2, a seeded search run twice, the TPE and grid samplers, --cv,
--refit, the plots) run with NNTRAIN_TUNE_TESTS=1; tests/test_tune_postgres.py is the distributed one.
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.hardening import assert_user_error, invoke
from tests.helpers import ENV

pytest.importorskip("optuna")
SLOW = pytest.mark.skipif(not os.environ.get("NNTRAIN_TUNE_TESTS"), reason="slow tune checks: set NNTRAIN_TUNE_TESTS=1")

CONFIG = """\
name: search
seed: 3
data: {dataset: iris, preprocessing: [standardize]}
model:
  layers:
    - repeat:
        times: 1
        layers:
          - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: EPOCHS, batch_size: 32, validation_split: 0.25, stratify: true}
search:
  sampler: SAMPLER
  pruner: {name: median, n_startup_trials: 2}
  trials: TRIALS
  params:
    optimizer.learning_rate: {loguniform: [1.0e-3, 1.0e-1]}
    model.layers.0.repeat.times: {int: [0, 2]}
    model.layers.0.repeat.layers.0.Dense.units: {int: [2, 16], log: true}
"""


FIXTURE_EPOCHS = 4


def write_config(folder, epochs=6, trials=5, sampler="random"):
    path = folder / "search.yaml"
    path.write_text(CONFIG.replace("EPOCHS", str(epochs)).replace("TRIALS", str(trials)).replace("SAMPLER", sampler))
    return path


def history(run_dir) -> dict:
    with open(run_dir / "history.csv") as fp:
        rows = list(csv.DictReader(fp))
    return {k: [float(r[k]) for r in rows] for k in rows[0]}


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune")
    config = write_config(folder, epochs=FIXTURE_EPOCHS)
    result = invoke("tune", config, "--runs-dir", folder / "runs", "--seed", "1", "--no-plots", "--json")
    return folder, config, result, json.loads(result.stdout)


def test_every_trial_is_a_run_and_the_best_is_the_lowest_val_loss(searched):
    folder, _, result, doc = searched
    assert result.returncode == 0, result.stderr
    tune_dir = folder / "runs" / "search"
    assert doc["counts"]["complete"] + doc["counts"]["pruned"] == 5 and doc["counts"]["failed"] == 0
    values = {}
    for row in doc["trials"]:
        run_dir = tune_dir / row["where"]
        assert run_dir.parent == tune_dir / "trials" and (run_dir / "checkpoints" / "last.h5").exists()
        trained = yaml.safe_load((run_dir / "config.yaml").read_text())
        assert trained["optimizer"]["learning_rate"] == pytest.approx(row["params"]["optimizer.learning_rate"])
        hidden = trained["model"]["layers"][:-1]
        assert len(hidden) == row["params"]["model.layers.0.repeat.times"]
        assert all(layer["units"] == row["params"]["model.layers.0.repeat.layers.0.Dense.units"] for layer in hidden)
        curve = history(run_dir)["val_loss"]
        if row["state"] == "complete":
            values[row["trial"]] = min(curve)  # the value a trial reports: its best epoch
            assert row["value"] == pytest.approx(min(curve)) and len(curve) == FIXTURE_EPOCHS
        else:
            assert row["state"] == "pruned" and len(curve) < FIXTURE_EPOCHS  # stopped early by the median pruner
    assert doc["counts"]["pruned"] >= 1, "the median pruner stopped no trial"
    best = min(values, key=values.get)
    assert doc["best"]["trial"] == best and doc["best"]["value"] == pytest.approx(values[best])
    assert [r["trial"] for r in doc["trials"]][:len(values)] == sorted(values, key=values.get)


def test_the_best_config_is_plain_yaml_that_fit_trains(searched):
    folder, _, _, doc = searched
    best_yaml = folder / "runs" / "search" / "best.yaml"
    plain = yaml.safe_load(best_yaml.read_text())
    assert "search" not in plain and plain["name"] == "search-best"
    assert plain["optimizer"]["learning_rate"] == pytest.approx(doc["best"]["params"]["optimizer.learning_rate"])
    fitted = invoke("fit", best_yaml, "--runs-dir", folder / "refits", "-q")
    assert fitted.returncode == 0, fitted.stderr
    trial_dir = folder / "runs" / "search" / doc["best"]["where"]
    assert history(trial_dir)["val_loss"] == pytest.approx(history(folder / "refits" / "search-best")["val_loss"])


def test_show_prints_the_leaderboard_and_runs_lists_the_trials(searched):
    folder, _, _, doc = searched
    shown = invoke("tune", "--show", folder / "runs" / "search")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    best_row = next(i for i, line in enumerate(lines) if f"trials/{doc['best']['trial']:03d}" in line)
    assert all(f"trials/{r['trial']:03d}" not in "".join(lines[:best_row]) for r in doc["trials"])
    assert f"train it: nntrain fit {folder / 'runs' / 'search' / 'best.yaml'}" in shown.stdout
    listed = invoke("runs", folder / "runs" / "search" / "trials", "--json")
    assert sorted(r["name"] for r in json.loads(listed.stdout)) == [f"{r['trial']:03d}" for r in
                                                                    sorted(doc["trials"], key=lambda r: r["trial"])]


def test_tune_refuses_a_bad_space_before_any_trial(tmp_path):
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("optimizer.learning_rate:", "optimizer.learnin_rate:"))
    result = invoke("tune", config, "--runs-dir", tmp_path / "runs")
    assert_user_error(result, f"{config}:20:5", "did you mean `learning_rate`?")
    assert not (tmp_path / "runs").exists()


@SLOW
def test_an_objective_the_config_does_not_log_is_a_user_error(tmp_path):
    config = write_config(tmp_path, epochs=1, trials=1)
    config.write_text(config.read_text().replace("search:\n", "search:\n  objective: val_acuracy\n"))
    result = invoke("tune", config, "--runs-dir", tmp_path / "runs", "--no-plots")
    assert_user_error(result, "'val_acuracy' is not logged", "did you mean `val_accuracy`?")


def test_fit_never_imports_optuna(tmp_path):
    """Optuna is the tune extra: a fresh `nntrain fit` of a config with a `search:` section trains without it."""
    config = write_config(tmp_path, epochs=1)
    code = ("import runpy, sys\n"
            f"sys.argv = ['nntrain', 'fit', {str(config)!r}, '--runs-dir', {str(tmp_path / 'runs')!r}, '-q']\n"
            "try:\n    runpy.run_module('nntrain', run_name='__main__')\nexcept SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n"
            "print(sorted(m for m in ('optuna', 'sqlalchemy', 'nntrain.commands.study') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **ENV})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(tmp_path / "runs" / "search"), "[]"]


# --- slower checks (NNTRAIN_TUNE_TESTS=1) ------------------------------------------------------------------
def _tune_process(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "nntrain", "tune", *map(str, args)], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **ENV})


@SLOW
def test_ctrl_c_discards_the_running_trial_and_resume_runs_it_again(tmp_path):
    config = write_config(tmp_path, epochs=200, trials=3)
    proc = _tune_process(config, "--runs-dir", tmp_path / "runs", "--no-plots", "--progress", "line", cwd=tmp_path)
    for line in proc.stdout:
        if line.startswith("trial   0"):
            break
    deadline = time.monotonic() + 60
    while not (tmp_path / "runs" / "search" / "trials" / "001" / "history.csv").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: the running trial is discarded; --resume runs it again" in err
    tune_dir = tmp_path / "runs" / "search"
    assert json.loads((tune_dir / "tune.json").read_text())["status"] == "interrupted"
    before = json.loads(invoke("tune", "--show", tune_dir, "--json").stdout)
    assert before["counts"] == {"complete": 1, "pruned": 0, "running": 0, "failed": 0, "interrupted": 1}
    discarded = next(r for r in before["trials"] if r["state"] == "interrupted")
    resumed = invoke("tune", "--resume", tune_dir, "--no-plots", "--json")
    assert resumed.returncode == 0, resumed.stderr
    after = json.loads(resumed.stdout)
    finished = [r for r in after["trials"] if r["state"] in ("complete", "pruned")]
    assert len(finished) == 3 and len({r["trial"] for r in finished}) == 3  # none lost, none counted twice
    again = [r for r in finished if r["trial"] > discarded["trial"] and r["params"] == discarded["params"]]
    assert len(again) == 1, "the discarded trial's values were not proposed again"


@SLOW
def test_a_seeded_search_proposes_the_same_trials_and_jobs_run_in_parallel(tmp_path):
    config = write_config(tmp_path, epochs=2, trials=4, sampler="tpe")
    docs = [json.loads(invoke("tune", config, "--runs-dir", tmp_path / "runs", "--name", name, "--seed", "7",
                              "--no-plots", "--json").stdout) for name in ("a", "b")]
    params = [[r["params"] for r in sorted(d["trials"], key=lambda r: r["trial"])] for d in docs]
    assert params[0] == params[1] and len(params[0]) == 4
    parallel = invoke("tune", config, "--runs-dir", tmp_path / "runs", "--name", "par", "--jobs", "2", "--no-plots",
                      "--json")
    doc = json.loads(parallel.stdout)
    assert parallel.returncode == 0 and doc["counts"]["complete"] + doc["counts"]["pruned"] == 4
    pids = {json.loads((tmp_path / "runs" / "par" / r["where"] / "run.json").read_text())["pid"]
            for r in doc["trials"]}
    assert len(pids) == 2, "two worker processes should have shared the trials"


@SLOW
def test_grid_cv_refit_and_plots(tmp_path):
    config = write_config(tmp_path, epochs=3, trials=2, sampler="grid")
    text = config.read_text().replace("loguniform: [1.0e-3, 1.0e-1]", "choice: [0.003, 0.03]")
    config.write_text(text.replace("{int: [0, 2]}", "{choice: [1]}").replace("{int: [2, 16], log: true}",
                                                                             "{choice: [8]}"))
    result = invoke("tune", config, "--runs-dir", tmp_path / "runs", "--cv", "3", "--refit", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert sorted(r["params"]["optimizer.learning_rate"] for r in doc["trials"]) == [0.003, 0.03]
    tune_dir = tmp_path / "runs" / "search"
    for row in doc["trials"]:  # the value of a --cv trial: the mean over folds of each fold's best val_loss
        report = json.loads((tune_dir / row["where"] / "kfold.json").read_text())
        assert row["value"] == pytest.approx(sum(f["best"]["val_loss"]["value"] for f in report["per_fold"]) / 3)
    assert doc["refit"]["status"] == "finished" and 0 <= doc["refit"]["test"]["accuracy"] <= 1
    assert (tune_dir / "refit" / "checkpoints" / "last.h5").exists()
    assert {p.rsplit("/", 1)[1] for p in doc["plots"]} >= {"optimization_history.png", "slice.png"}
    replotted = invoke("plot", tune_dir)
    assert replotted.returncode == 0 and replotted.stdout.split() == doc["plots"]
    assert all(math.isfinite(r["value"]) for r in doc["trials"])


def test_a_shared_database_password_is_never_written(tmp_path):
    from nntrain.commands.study import shown_url
    from nntrain.commands.tune import session_from
    from nntrain.errors import ConfigError

    shown = shown_url("postgresql://tuner:s3cret@db.example/tuning")
    assert "s3cret" not in shown and shown.startswith("postgresql://tuner:")
    info = {"storage": shown, "config": "c.yaml", "overrides": [], "space": {}, "direction": "down", "name": "x",
            "study": "x", "trials": 3, "sampler_seed": 1, "epochs": 2}
    with pytest.raises(ConfigError, match="give --storage with its password again"):
        session_from(info, tmp_path, None)


@SLOW
def test_hyperband_prunes_and_a_timeout_ends_the_search(tmp_path):
    config = write_config(tmp_path, epochs=9, trials=8)
    config.write_text(config.read_text().replace("{name: median, n_startup_trials: 2}", "hyperband"))
    doc = json.loads(invoke("tune", config, "--runs-dir", tmp_path / "runs", "--no-plots", "--json").stdout)
    assert doc["counts"]["pruned"] >= 1 and doc["counts"]["complete"] + doc["counts"]["pruned"] == 8
    timed = invoke("tune", config, "--runs-dir", tmp_path / "runs", "--name", "timed", "--trials", "500",
                   "--timeout", "1", "--no-plots", "--json")
    assert timed.returncode == 0, timed.stderr
    assert 1 <= len(json.loads(timed.stdout)["trials"]) < 500  # no trial starts after the timeout
