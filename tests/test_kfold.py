"""`nntrain kfold`: folds partition the rows, preprocessing is fitted per fold, parallel workers give the same numbers
as one process, failing folds and Ctrl-C are handled, and the Keras textbook boston_housing example reaches its
quality bar in time. Runs with worker processes (`--jobs 2`) and the Ctrl-C test use a real process; the others run
in-process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import invoke, run_process

REPO = Path(__file__).resolve().parents[1]
CONFIGS = Path(__file__).resolve().parent / "configs"


def without_timing(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "timing"}


@pytest.fixture(scope="module")
def iris_kfold(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kfold")
    r = invoke("kfold", CONFIGS / "iris_small.yaml", "--folds", "3", "--stratify", "--refit", "--runs-dir", root,
               "--progress", "line", "--set", "training.epochs=8", cwd=root)
    assert r.returncode == 0, r.stderr
    for i in (1, 2, 3):  # line mode: one plain line per finished fold
        assert f"fold {i}: finished after 8 epochs" in r.stdout
    assert "refit: finished" in r.stdout
    return root / "iris_small"


def test_parallel_workers_give_identical_results(iris_kfold, tmp_path):
    r = run_process("kfold", CONFIGS / "iris_small.yaml", "--folds", "3", "--stratify", "--refit", "--jobs", "2",
                    "--runs-dir", tmp_path, "--set", "training.epochs=8", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    one = json.loads((iris_kfold / "kfold.json").read_text())
    two = json.loads((tmp_path / "iris_small" / "kfold.json").read_text())
    assert one["timing"]["jobs"] == 1 and two["timing"]["jobs"] == 2
    assert without_timing(one) == without_timing(two)
    assert (iris_kfold / "kfold.csv").read_text() == (tmp_path / "iris_small" / "kfold.csv").read_text()
    for fold in ("fold-1", "fold-2", "fold-3", "refit"):
        assert (iris_kfold / fold / "history.csv").read_text().split("\n")[1].split(",")[:-1] == \
               (tmp_path / "iris_small" / fold / "history.csv").read_text().split("\n")[1].split(",")[:-1]


def test_folds_partition_the_rows_and_keep_class_proportions(iris_kfold):
    with np.load(iris_kfold / "folds.npz") as z:
        folds = {k: z[k] for k in z.files}
    val = np.concatenate([folds[f"fold_{i}_val"] for i in (1, 2, 3)])
    assert len(val) == len(set(val.tolist())) == 120  # every training row validated exactly once
    for i in (1, 2, 3):
        assert not set(folds[f"fold_{i}_train"]) & set(folds[f"fold_{i}_val"])
        with np.load(iris_kfold / f"fold-{i}" / "splits.npz") as s:
            np.testing.assert_array_equal(s["val"], folds[f"fold_{i}_val"])
            np.testing.assert_array_equal(s["train"], folds[f"fold_{i}_train"])
    labels = np.repeat([0, 1, 2], 50)  # the bundled iris file is sorted by species
    for i in (1, 2, 3):
        counts = np.bincount(labels[folds[f"fold_{i}_val"]], minlength=3)
        assert counts.max() - counts.min() <= 1, counts


def test_preprocessing_is_fitted_on_each_folds_training_part(iris_kfold):
    import csv
    import gzip

    from nntrain.runs.checkpoint import load

    with gzip.open(REPO / "datasets" / "iris.csv.gz", "rt") as f:
        x = np.array([[float(v) for v in row[:4]] for row in list(csv.reader(f))[1:]])
    with np.load(iris_kfold / "folds.npz") as z:
        means = []
        for i in (1, 2, 3):
            state = load(iris_kfold / f"fold-{i}" / "checkpoints" / "last.h5").preprocessing
            shift = np.asarray(state["inputs"]["input"]["steps"][0]["state"]["shift"])
            np.testing.assert_allclose(shift, x[z[f"fold_{i}_train"]].mean(axis=0), rtol=1e-6)
            means.append(shift)
    assert not np.allclose(means[0], means[1])


def test_summary_matches_the_fold_folders(iris_kfold):
    report = json.loads((iris_kfold / "kfold.json").read_text())
    finals = []
    for f in report["per_fold"]:
        metrics = json.loads((iris_kfold / f["run_dir"] / "metrics.json").read_text())
        assert f["status"] == "finished" and f["epochs"] == metrics["epochs"] == 8
        finals.append(metrics["final"]["val_accuracy"])
        # each fold folder is a normal run: evaluate reproduces its last logged validation epoch
        r = invoke("evaluate", iris_kfold / f["run_dir"], "--split", "val", "--checkpoint", "last", cwd=iris_kfold)
        assert r.returncode == 0, r.stderr
        ev = json.loads((iris_kfold / f["run_dir"] / "evaluation-val-last.json").read_text())
        assert ev["metrics"]["accuracy"] == metrics["final"]["val_accuracy"]
    m = report["metrics"]["val_accuracy"]
    assert m["final_mean"] == pytest.approx(np.mean(finals), abs=1e-15)
    assert m["final_std"] == pytest.approx(np.std(finals), abs=1e-15)
    curve = report["curves"]["val_loss"]["mean"]
    assert len(curve) == 8 and report["curves"]["val_loss"]["folds"] == [3] * 8
    best = report["best_epoch"]
    assert best["monitor"] == "val_loss" and curve[best["epoch"] - 1] == min(curve) == best["value"]
    # refit: all 120 training rows for the best averaged epoch count, evaluated on the 30 test rows
    refit = report["refit"]
    assert refit["epochs"] == best["epoch"]
    assert json.loads((iris_kfold / "refit" / "metrics.json").read_text())["epochs"] == best["epoch"]
    with np.load(iris_kfold / "refit" / "splits.npz") as s:
        assert len(s["train"]) == 120 and "val" not in s.files
    ev = json.loads((iris_kfold / "refit" / "evaluation-test-last.json").read_text())
    assert ev["rows"] == 30 and ev["metrics"] == refit["test"]
    lines = (iris_kfold / "kfold.csv").read_text().splitlines()
    assert lines[0].startswith("fold,status,epochs,final_loss") and [l.split(",")[0] for l in lines[1:]] == \
        ["1", "2", "3", "mean", "std"]


def test_boston_housing_textbook_example(tmp_path):
    """configs/boston_housing_kfold.yaml as shipped: 4 folds, mean validation MAE <= 3.0 (k$), well under a minute."""
    start = time.perf_counter()
    r = run_process("kfold", REPO / "configs" / "boston_housing_kfold.yaml", "--folds", "4", "--jobs", "2",
                    "--runs-dir", tmp_path, "-q", cwd=tmp_path)
    seconds = time.perf_counter() - start
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "boston_housing_kfold" / "kfold.json").read_text())
    assert report["rows"] == 404 and [f["status"] for f in report["per_fold"]] == ["finished"] * 4
    assert report["metrics"]["val_mae"]["final_mean"] <= 3.0, report["metrics"]["val_mae"]
    assert seconds < 60


def test_a_failing_fold_is_reported_and_the_others_summarised(tmp_path):
    """One huge feature value overflows the loss of every fold that trains on it (2 of 3)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    y = x @ [1.0, -2.0]
    x[7, 0] = 1e20
    with open(tmp_path / "data.csv", "w") as f:
        f.write("a,b,y\n" + "".join(f"{float(a)!r},{float(b)!r},{float(t)!r}\n" for (a, b), t in zip(x, y)))
    (tmp_path / "cfg.yaml").write_text(
        "name: overflow\nseed: 1\ndata: {train: data.csv, target: y}\n"
        "model: {layers: [{Dense: {units: 4, activation: relu}}, {Dense: {units: 1}}]}\n"
        "loss: mse\noptimizer: {name: sgd, learning_rate: 0.01}\ntraining: {epochs: 4, batch_size: 8}\n")
    r = run_process("kfold", tmp_path / "cfg.yaml", "--folds", "3", "--jobs", "2", "--runs-dir", tmp_path / "runs",
                    "--progress", "line", cwd=tmp_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Warning" not in r.stderr
    assert "fold 1 failed: stopped: the training loss became inf" in r.stderr
    report = json.loads((tmp_path / "runs" / "overflow" / "kfold.json").read_text())
    assert report["status"] == "partial"
    assert [f["status"] for f in report["per_fold"]] == ["failed", "failed", "finished"]
    assert report["per_fold"][2]["epochs"] == 4
    assert report["metrics"]["loss"]["final_mean"] == report["per_fold"][2]["final"]["loss"]
    for i, status in ((1, "failed"), (3, "finished")):
        assert json.loads((tmp_path / "runs" / "overflow" / f"fold-{i}" / "run.json").read_text())["status"] == status


def test_ctrl_c_stops_every_worker_and_exits_130(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "nntrain", "kfold", str(REPO / "configs" / "boston_housing_kfold.yaml"),
         "--folds", "4", "--jobs", "2", "--set", "training.epochs=100000", "--runs-dir", str(tmp_path),
         "--progress", "line"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    histories = [tmp_path / "boston_housing_kfold" / f"fold-{i}" / "history.csv" for i in (1, 2)]
    deadline = time.monotonic() + 60
    while not all(h.exists() for h in histories):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what a Ctrl-C in the terminal does: every process of the group
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "interrupted" in err
    folder = tmp_path / "boston_housing_kfold"
    report = json.loads((folder / "kfold.json").read_text())
    assert report["status"] == "interrupted"
    assert [f["status"] for f in report["per_fold"]] == ["interrupted"] * 4
    for i in (1, 2):
        info = json.loads((folder / f"fold-{i}" / "run.json").read_text())
        assert info["status"] == "interrupted"
        assert not Path(f"/proc/{info['pid']}").exists() or \
            "zombie" in Path(f"/proc/{info['pid']}/status").read_text()
        # the folder stays usable: its checkpoint and history agree on the epochs done
        metrics = json.loads((folder / f"fold-{i}" / "metrics.json").read_text())
        from nntrain.runs.checkpoint import load

        assert load(folder / f"fold-{i}" / "checkpoints" / "last.h5").epoch == metrics["epochs"]


@pytest.mark.parametrize("args, message", [
    (["--folds", "1"], "--folds expects at least 2 folds, got 1"),
    (["--folds", "405"], "--folds 405 is more than the 404 training rows of boston_housing"),
    (["--folds", "3", "--stratify"], "--stratify keeps class proportions, but the target of boston_housing is not"),
    (["--folds", "3", "--jobs", "0"], "--jobs expects a positive number"),
])
def test_bad_arguments_exit_2_before_anything_is_written(tmp_path, args, message):
    r = invoke("kfold", REPO / "configs" / "boston_housing_kfold.yaml", *args, "--runs-dir", tmp_path / "runs",
               cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in " ".join(r.stderr.split()) and "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()


TINY = """\
name: tiny
seed: 1
data: {train: tiny.npz}
model:
  layers:
    - Dense: {units: 4, activation: relu}
    - Dense: {units: 1}
loss: mse
metrics: [mae, mse, rmse, r2]  # a history of 600 epochs x 12 keys: more than a pipe holds
optimizer: sgd
training: {epochs: 600, batch_size: 64}
"""


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_a_reader_that_closes_early_ends_kfold_and_every_worker(tmp_path):
    """`nntrain kfold ... --jobs 2 | head -n 1`: a fold's end line meets a closed pipe; every worker stops (each
    still holding a history too large for the pipe) and the command exits within seconds."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 3))
    np.savez(tmp_path / "tiny.npz", x=x, y=x @ [1.0, -2.0, 0.5])
    (tmp_path / "tiny.yaml").write_text(TINY)
    proc = subprocess.Popen([sys.executable, "-m", "nntrain.cli", "kfold", "tiny.yaml", "--folds", "3", "--jobs", "2",
                             "--progress", "line", "--runs-dir", "runs"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "3-fold cross-validation" in proc.stdout.readline()
    deadline = time.monotonic() + 60
    while len([p for p in _children(proc.pid) if _alive(p)]) < 3:  # two workers and the resource tracker
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    children = _children(proc.pid)
    proc.stdout.close()  # the reader goes away; the next fold line meets a closed pipe
    proc.wait(timeout=90)  # before the fix: a worker blocked on the pipe and the command never ended
    err = proc.stderr.read()
    assert "Traceback" not in err, err
    time.sleep(0.5)
    assert not [p for p in children if _alive(p)], "a worker survived its parent"
    assert json.loads((tmp_path / "runs" / "tiny" / "run.json").read_text())["status"] == "interrupted"


def test_a_fold_whose_worker_never_records_its_end_is_not_left_running(tmp_path):
    """A worker killed after the grace period (or stopped before its run began) cannot write run.json itself: the
    parent marks the fold, and only a fold of that very process."""
    from nntrain.runs import mark_unfinished, read_json, write_json

    write_json(tmp_path / "run.json", {"status": "running", "pid": 4242})
    mark_unfinished(tmp_path, 4243, "interrupted", "killed")
    assert read_json(tmp_path / "run.json")["status"] == "running"  # another process's run: not ours to judge
    mark_unfinished(tmp_path, 4242, "interrupted", "the worker did not stop within 10 s and was killed")
    info = read_json(tmp_path / "run.json")
    assert info["status"] == "interrupted" and info["stop_reason"].endswith("was killed") and info["finished"]
    write_json(tmp_path / "run.json", {"status": "finished", "pid": 4242})
    mark_unfinished(tmp_path, 4242, "interrupted", "killed")
    assert read_json(tmp_path / "run.json")["status"] == "finished"  # a recorded end is never overwritten
    mark_unfinished(tmp_path / "missing", 4242, "failed", "no folder")  # nothing to correct, and no error
