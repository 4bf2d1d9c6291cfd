"""One writer per run: `fit` holds runs/NAME/.lock (pid, host) while it writes; a second `fit --resume` of the same
run is refused with who holds it; a lock left by a dead process is taken over; the lock goes on every way out."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from nntrain.runs import lock as lock_module
from nntrain.runs.lock import LOCK_FILE, RunLock, RunLocked
from tests.hardening import assert_user_error, invoke, iris_config, run_process

@pytest.fixture
def run(tmp_path):
    """tmp_path with runs/iris: a finished two-epoch run."""
    (tmp_path / "iris.yaml").write_text(iris_config(epochs=2))
    assert invoke("fit", "iris.yaml", "-q", cwd=tmp_path).returncode == 0
    return tmp_path


def dead_pid() -> int:
    """The id of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_finished_run_leaves_no_lock_and_resumes(run):
    assert not (run / "runs" / "iris" / LOCK_FILE).exists()
    result = invoke("fit", "--resume", "runs/iris", "--set", "training.epochs=3", "-q", cwd=run)
    assert result.returncode == 0, result.stderr
    assert not (run / "runs" / "iris" / LOCK_FILE).exists()


def test_a_second_writer_is_refused_naming_the_holder(run):
    with RunLock() as held:
        held.hold(run / "runs" / "iris")
        holder = json.loads((run / "runs" / "iris" / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        result = invoke("fit", "--resume", "runs/iris", "-q", cwd=run)
        assert_user_error(result, "runs/iris is being written by process", f"{os.getpid()} on "
                                  f"{socket.gethostname()}", "one process writes a run at a time")
    assert not (run / "runs" / "iris" / LOCK_FILE).exists()
    released = invoke("fit", "--resume", "runs/iris", "--set", "training.epochs=3", "-q", cwd=run)
    assert released.returncode == 0  # the lock was released on exit


def test_a_stale_lock_of_a_dead_process_is_taken_over(run):
    gone = {"pid": dead_pid(), "host": socket.gethostname(), "since": "earlier", "command": ["nntrain", "fit"]}
    (run / "runs" / "iris" / LOCK_FILE).write_text(json.dumps(gone))
    result = invoke("fit", "--resume", "runs/iris", "--set", "training.epochs=3", "-q", cwd=run)
    assert result.returncode == 0, result.stderr
    info = json.loads((run / "runs" / "iris" / "run.json").read_text())
    assert info["resumes"][-1]["stale_lock"]["pid"] == gone["pid"]
    assert not (run / "runs" / "iris" / LOCK_FILE).exists()


def test_the_lock_goes_when_the_run_fails_to_start(run):
    result = invoke("fit", "--resume", "runs/iris", "--set", "model.layers.0.Dense.units=9", cwd=run)
    assert result.returncode == 2  # the checkpoint no longer fits the config
    assert not (run / "runs" / "iris" / LOCK_FILE).exists()


def test_a_run_folder_without_write_access_is_a_clear_error(run, monkeypatch):
    def refused(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(lock_module, "_locked_fd", refused)  # as a read-only folder answers (root ignores chmod)
    assert_user_error(invoke("fit", "--resume", "runs/iris", cwd=run), "cannot write its lock file .lock "
                      "(Permission denied); a run folder must be writable")


def test_without_flock_the_file_and_its_process_decide(tmp_path, monkeypatch):
    monkeypatch.setattr(lock_module, "fcntl", None)
    with RunLock() as first:
        first.hold(tmp_path)
        with pytest.raises(RunLocked, match=f"process {os.getpid()}"):
            RunLock().hold(tmp_path)
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": dead_pid(), "host": socket.gethostname()}))
    with RunLock() as second:
        second.hold(tmp_path)
        assert second.stale["host"] == socket.gethostname()
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    with pytest.raises(RunLocked, match="on elsewhere"):  # another host's process cannot be checked: still held
        RunLock().hold(tmp_path)


def test_two_real_processes_one_killed(tmp_path):
    """A real second `fit --resume` during a run is refused; after SIGKILL of the first, resume takes over."""
    (tmp_path / "slow.yaml").write_text(iris_config(epochs=400, batch_size=1))
    first = subprocess.Popen([sys.executable, "-m", "nntrain", "fit", "slow.yaml", "--progress", "line"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in first.stdout:  # an epoch line comes after that epoch's checkpoint
            if line.startswith("Epoch "):
                break
        second = run_process("fit", "--resume", "runs/iris", cwd=tmp_path, timeout=120)
        assert_user_error(second, f"runs/iris is being written by process {first.pid}")
        assert first.poll() is None, "the refused resume must leave the first run alone"
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
    assert (tmp_path / "runs" / "iris" / LOCK_FILE).exists()  # SIGKILL: the file stays, the OS lock does not
    from nntrain.runs.checkpoint import load

    done = load(tmp_path / "runs" / "iris" / "checkpoints" / "last.h5").epoch  # more on a loaded machine
    start = time.perf_counter()
    third = run_process("fit", "--resume", "runs/iris", "--set", f"training.epochs={done + 1}", "-q", cwd=tmp_path,
                        timeout=120)
    assert third.returncode == 0, third.stderr
    info = json.loads((tmp_path / "runs" / "iris" / "run.json").read_text())
    assert info["resumes"][-1]["stale_lock"]["pid"] == first.pid
    assert not (tmp_path / "runs" / "iris" / LOCK_FILE).exists()
    assert time.perf_counter() - start < 60
