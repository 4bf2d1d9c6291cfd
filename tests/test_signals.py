"""Ctrl-C and SIGTERM sent to real `nntrain` processes: before training starts, while it runs, twice, and to a
k-fold parent with worker processes. Every case ends with one line and exit 130 (SIGINT) or 143 (SIGTERM), no
traceback, and run folders that say how they ended."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nntrain.cli.app import app
from nntrain.runs import process_alive
from nntrain.runs.checkpoint import load

REPO = Path(__file__).resolve().parents[1]

HOOKS = """\
import time
from nntrain.training.callbacks import Callback


class Hooks(Callback):
    \"\"\"Says where training is on stdout; sleeps where a test wants to send a signal.\"\"\"

    def __init__(self, sleep_at: str = ""):
        self.sleep_at = sleep_at
        if sleep_at == "config":
            print("configuring", flush=True)
            time.sleep(30)

    def on_epoch_end(self, epoch, logs):
        print(f"epoch {epoch + 1} done", flush=True)

    def on_interrupt(self):
        if self.sleep_at == "interrupt":
            print("stopping", flush=True)
            time.sleep(2)

    def set_state(self, state):
        if self.sleep_at == "resume":
            print("restoring", flush=True)
            time.sleep(30)
"""

CONFIG = """\
name: sig
seed: 3
data: {dataset: digits, preprocessing: [{rescale: {scale: 0.0625}}]}
model:
  layers:
    - Dense: {units: 64, activation: relu}
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: rmsprop
training: {epochs: 100000, batch_size: 4, validation_split: 0.2}
callbacks:
  - hooks:Hooks: {sleep_at: SLEEP}
"""


def start(tmp_path: Path, *args, sleep_at: str = "") -> subprocess.Popen:
    (tmp_path / "hooks.py").write_text(HOOKS)
    (tmp_path / "sig.yaml").write_text(CONFIG.replace("SLEEP", repr(sleep_at)))
    return subprocess.Popen([sys.executable, "-m", "nntrain.cli", *args, "--progress", "none"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(proc: subprocess.Popen, marker: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if marker in line:
            return
        assert time.monotonic() < deadline, f"no {marker!r} within {timeout} s"
    raise AssertionError(f"the process ended before {marker!r}: {proc.communicate()}")


def finish(proc: subprocess.Popen, code: int) -> str:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, (proc.returncode, out, err)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    return err.strip()


@pytest.mark.parametrize("signum,code,line", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_a_signal_before_training_exits_with_one_line_and_leaves_no_folder(tmp_path, signum, code, line):
    proc = start(tmp_path, "fit", "sig.yaml", sleep_at="config")
    wait_for(proc, "configuring")
    proc.send_signal(signum)
    assert finish(proc, code) == line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_failure_between_the_folder_and_the_first_checkpoint_removes_the_folder(tmp_path, monkeypatch):
    from nntrain.commands import session

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(session, "write_run_files", killed)
    (tmp_path / "hooks.py").write_text(HOOKS)
    (tmp_path / "sig.yaml").write_text(CONFIG.replace("SLEEP", "''"))
    result = CliRunner().invoke(app, ["fit", str(tmp_path / "sig.yaml"), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 130 and result.stderr.strip() == "interrupted"
    assert not any((tmp_path / "runs").iterdir())  # the name `sig` is free again


@pytest.mark.parametrize("signum,code,words", [(signal.SIGINT, 130, "interrupted during epoch"),
                                              (signal.SIGTERM, 143, "stopped by SIGTERM during epoch")])
def test_sigterm_stops_training_like_ctrl_c(tmp_path, signum, code, words):
    proc = start(tmp_path, "fit", "sig.yaml")
    wait_for(proc, "epoch 2 done")
    proc.send_signal(signum)
    err = finish(proc, code)
    assert words in err and "Resume with: nntrain fit --resume runs/sig" in err and len(err.splitlines()) == 1
    run = tmp_path / "runs" / "sig"
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "interrupted"
    assert load(run / "checkpoints" / "last.h5").epoch == json.loads((run / "metrics.json").read_text())["epochs"]


def test_a_second_ctrl_c_while_stopping_is_ignored(tmp_path):
    proc = start(tmp_path, "fit", "sig.yaml", sleep_at="interrupt")
    wait_for(proc, "epoch 2 done")
    proc.send_signal(signal.SIGINT)
    wait_for(proc, "stopping")
    for _ in range(3):  # the user insists while the last checkpoint and run.json are written
        proc.send_signal(signal.SIGINT)
        time.sleep(0.1)
    err = finish(proc, 130)
    assert "interrupted during epoch" in err and len(err.splitlines()) == 1
    run = tmp_path / "runs" / "sig"
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    assert not list(run.rglob("*.tmp"))
    load(run / "checkpoints" / "last.h5")


def test_sigterm_while_a_resume_restores_leaves_the_run_as_it_was(tmp_path):
    proc = start(tmp_path, "fit", "sig.yaml")
    wait_for(proc, "epoch 2 done")
    proc.send_signal(signal.SIGINT)
    finish(proc, 130)
    run = tmp_path / "runs" / "sig"
    before = (run / "run.json").read_text()
    proc = subprocess.Popen([sys.executable, "-m", "nntrain.cli", "fit", "--resume", "runs/sig", "--set",
                             "callbacks.0.sleep_at=resume", "--progress", "none"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(proc, "restoring")
    proc.send_signal(signal.SIGTERM)
    assert finish(proc, 143) == "terminated (SIGTERM)"
    assert (run / "run.json").read_text() == before


def test_sigterm_to_a_kfold_parent_stops_every_worker_and_writes_kfold_json(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "nntrain.cli", "kfold", str(REPO / "configs" / "boston_housing_kfold.yaml"),
         "--folds", "4", "--jobs", "2", "--set", "training.epochs=100000", "--runs-dir", str(tmp_path),
         "--progress", "line"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    histories = [tmp_path / "boston_housing_kfold" / f"fold-{i}" / "history.csv" for i in (1, 2)]
    deadline = time.monotonic() + 60
    while not all(h.exists() for h in histories):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # the parent only, as a scheduler or `kill` sends it
    err = finish(proc, 143)
    assert "interrupted" in err
    folder = tmp_path / "boston_housing_kfold"
    report = json.loads((folder / "kfold.json").read_text())
    assert report["status"] == "interrupted" and [f["status"] for f in report["per_fold"]] == ["interrupted"] * 4
    assert json.loads((folder / "run.json").read_text())["status"] == "interrupted"
    for i in (1, 2):
        info = json.loads((folder / f"fold-{i}" / "run.json").read_text())
        assert info["status"] == "interrupted" and not process_alive(info["pid"])  # reaped by init
