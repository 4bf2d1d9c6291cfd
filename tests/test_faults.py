"""Faults while writing a run: a disk that fills up (a real, small tmpfs), temporary files left by a killed
writer, a run folder that never got its first checkpoint. Each ends with one error paragraph, no temporary file,
earlier checkpoints kept and the run marked; never a traceback or a crash inside HDF5."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nntrain.cli.app import app
from nntrain.runs import checkpoint
from tests.helpers import ROOT, refused, run_process

IRIS = """\
name: iris
seed: 1
data: {dataset: iris, preprocessing: [standardize]}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: adam
training: {epochs: 5, batch_size: 16, validation_split: 0.2}
"""

# 16 KB: no room for the first checkpoint (~25 KB); 64 KB: the first fits, the next ones do not; 2 MB: all fit
SIZES = ["16k", "64k", "96k", "128k", "2m"]


@pytest.fixture
def small_disk(tmp_path):
    """mount(size) -> a folder on a tmpfs of that size (root and mount needed; skipped elsewhere)."""
    mounted = []

    def mount(size: str) -> Path:
        path = tmp_path / f"disk-{size}"
        path.mkdir()
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("a small tmpfs needs root and mount")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
        if done.returncode:
            pytest.skip(f"mount -t tmpfs refused: {done.stderr.decode().strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.parametrize("size", SIZES)
def test_a_full_disk_ends_the_run_cleanly(tmp_path, small_disk, size):
    (tmp_path / "iris.yaml").write_text(IRIS)
    disk = small_disk(size)
    result = run_process("fit", "iris.yaml", "--runs-dir", disk / "runs", "--progress", "none", cwd=tmp_path)
    assert result.returncode in (0, 2), result.stderr  # a segfault in libhdf5 was 139
    assert "Traceback" not in result.stderr
    run = disk / "runs" / "iris"
    assert not list(disk.rglob("*.tmp")), "a temporary file was left behind"
    if not run.exists():  # no room even for the run's own files: the folder is gone, its name free again
        assert result.returncode == 2 and result.stderr.startswith("error: cannot write"), result.stderr
        return
    info = json.loads((run / "run.json").read_text())
    for h5 in (run / "checkpoints").glob("*.h5"):
        checkpoint.load(h5)  # every checkpoint left is complete
    if result.returncode == 0:
        assert info["status"] == "finished"
        return
    message = " ".join(result.stderr.split())
    assert message.startswith("error: cannot write") and "disk" in message and "\n\n" not in result.stderr.strip()
    assert info["status"] == "failed" and "cannot write" in info["stop_reason"]
    if (run / "checkpoints" / "last.h5").exists():
        assert f"resume with: nntrain fit --resume {run}" in message
    else:
        resumed = run_process("fit", "--resume", run, cwd=tmp_path)
        assert resumed.returncode == 2 and "nothing to resume" in resumed.stderr
        assert f"--name iris --runs-dir {run.parent}" in " ".join(resumed.stderr.split())


def test_a_read_only_runs_folder_and_a_name_too_long_are_one_message_each(tmp_path, small_disk):
    (tmp_path / "iris.yaml").write_text(IRIS)
    disk = small_disk("1m")
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    result = run_process("fit", "iris.yaml", "--runs-dir", disk / "runs", "--progress", "none", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: cannot write {disk}/runs/iris: the file system is read-only"

    (tmp_path / "long.yaml").write_text(IRIS + f"callbacks:\n  - model_checkpoint: {{filepath: '{'x' * 300}.h5'}}\n")
    result = run_process("fit", "long.yaml", "--progress", "none", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the file name is too long" in result.stderr
    assert "resume with: nntrain fit --resume runs/iris" in result.stderr
    assert json.loads((tmp_path / "runs" / "iris" / "run.json").read_text())["status"] == "failed"
    assert not list((tmp_path / "runs").rglob("*.tmp"))


def test_a_disk_too_full_for_a_checkpoint_is_said_before_hdf5_starts(tmp_path, small_disk):
    from nntrain.engine.layers import Dense
    from nntrain.engine.model import Sequential

    model = Sequential([Dense(256), Dense(256)], input_shape=(256,), seed=1)  # ~0.5 MB of weights
    disk = small_disk("256k")
    with pytest.raises(OSError, match=r"it needs about .* and the disk of .* has .* free") as exc:
        checkpoint.save(disk / "last.h5", model)
    assert exc.value.errno == 28 and not list(disk.iterdir())


def test_a_nearly_full_disk_fails_in_python_not_inside_hdf5(tmp_path, small_disk):
    """Where the size estimate let a write start and the disk is full by then (here: the estimate switched off),
    the write still fails as an OSError in a process that goes on, and the earlier checkpoint stays whole. Run in
    a separate process: HDF5 writing to a full disk itself used to crash it."""
    disk = small_disk("256k")
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from nntrain.runs import checkpoint
from nntrain.engine.layers import Dense
from nntrain.engine.model import Sequential
checkpoint.check_free_space = lambda *args: None
model = Sequential([Dense(40), Dense(3)], input_shape=(8,), seed=1)
last = Path(sys.argv[1]) / "last.h5"
checkpoint.save(last, model)
try:  # fill the disk, then give back 8 KB: less than a checkpoint
    for i in range(10_000):
        (last.parent / f"fill-{{i}}").write_bytes(bytes(4096))
except OSError:
    (last.parent / "fill-0").unlink()
    (last.parent / "fill-1").unlink()
model.layers[1].params["kernel"][...] = 7
try:
    checkpoint.save(last, model)
except OSError as exc:
    print("refused:", exc)
"""
    done = subprocess.run([sys.executable, "-c", script, str(disk)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "refused: cannot write" in done.stdout and "the disk is full" in done.stdout, done.stdout
    assert not list(disk.glob(".*.tmp"))
    assert not (checkpoint.load(disk / "last.h5").weights["dense_1"]["kernel"] == 7).any()


def _killed_run(runs: Path, name: str, status: str = "running", pid: int = 999_999_999) -> Path:
    """A run folder as a process killed before its first checkpoint leaves it."""
    run = runs / name
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(IRIS)
    (run / "run.json").write_text(json.dumps({"status": status, "pid": pid, "config": "/data/iris.yaml"}))
    return run


def test_resuming_a_run_without_a_checkpoint_says_how_to_start_again(tmp_path):
    run = _killed_run(tmp_path / "runs", "iris")
    result = CliRunner().invoke(app, ["fit", "--resume", str(run)])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "nothing to resume" in message and "(killed)" in message
    assert f"nntrain runs --clean {run.parent}" in message
    assert f"nntrain fit /data/iris.yaml --name iris --runs-dir {run.parent}" in message


def test_stale_temporary_files_are_removed_at_start_resume_and_by_runs_clean(tmp_path):
    (tmp_path / "iris.yaml").write_text(IRIS.replace("epochs: 5", "epochs: 1"))
    runs = tmp_path / "runs"
    assert CliRunner().invoke(app, ["fit", str(tmp_path / "iris.yaml"), "--runs-dir", str(runs), "-q"]).exit_code == 0
    run = runs / "iris"
    dead, alive = 999_999_999, os.getppid()  # a writer that is gone; one that still runs (pytest's parent)
    stale = [run / "checkpoints" / f".last.h5.{dead}.tmp", run / f".history.csv.{dead}.tmp"]
    live = run / "checkpoints" / f".best.h5.{alive}.tmp"
    for path in [*stale, live]:
        path.write_bytes(b"x" * 1000)
    outside = tmp_path / f".notes.txt.{dead}.tmp"  # not in a run folder: never touched
    outside.write_text("mine")
    result = CliRunner().invoke(app, ["fit", "--resume", str(run), "--set", "training.epochs=2", "-q"])
    assert result.exit_code == 0, result.output
    assert not any(p.exists() for p in stale) and live.exists() and outside.exists()

    for path in stale:
        path.write_bytes(b"x")
    assert CliRunner().invoke(app, ["fit", str(tmp_path / "iris.yaml"), "--runs-dir", str(runs), "-q"]).exit_code == 0
    assert not any(p.exists() for p in stale) and live.exists()

    stale[0].write_bytes(b"x")
    killed = _killed_run(runs, "killed")
    stopped = _killed_run(runs, "stopped", status="interrupted", pid=os.getpid())
    busy = _killed_run(runs, "busy", pid=os.getpid())  # still training: kept
    kfold = _killed_run(runs, "kf", status="interrupted")
    (kfold / "folds.npz").write_bytes(b"")
    listed = CliRunner().invoke(app, ["runs", str(runs), "--clean"])
    assert listed.exit_code == 0, listed.output
    for path in (stale[0], killed, stopped):
        assert f"removed {path}" in listed.stdout and not path.exists()
    assert busy.exists() and kfold.exists() and live.exists() and (runs / "iris" / "checkpoints" / "last.h5").exists()


def test_predict_and_plot_on_a_full_disk_leave_no_partial_file(tmp_path, small_disk):
    (tmp_path / "iris.yaml").write_text(IRIS.replace("epochs: 5", "epochs: 1"))
    assert CliRunner().invoke(app, ["fit", str(tmp_path / "iris.yaml"), "--runs-dir", str(tmp_path / "runs"),
                                    "-q"]).exit_code == 0
    rows = "sepal_length,sepal_width,petal_length,petal_width\n" + "5.1,3.5,1.4,0.2\n" * 5000
    (tmp_path / "new.csv").write_text(rows)
    disk = small_disk("256k")
    shutil.copytree(tmp_path / "runs" / "iris", disk / "iris")
    fd = os.open(disk / "fill", os.O_WRONLY | os.O_CREAT)  # fill the disk to the last block
    try:
        while os.write(fd, bytes(4096)):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    for args in (["predict", tmp_path / "runs" / "iris", tmp_path / "new.csv", "-o", disk / "out.csv"],
                 ["predict", tmp_path / "runs" / "iris", tmp_path / "new.csv", "-o", disk / "out.npy"],
                 ["predict", tmp_path / "runs" / "iris", tmp_path / "new.csv", "-o", disk / "no" / "out.npy"],
                 ["plot", disk / "iris"]):
        message = refused(*args)
        assert message.startswith("error: cannot write"), message
    left = {p.name for p in disk.rglob("*") if p.suffix in (".csv", ".npy", ".png") or p.name.startswith(".")}
    assert left == {"history.csv"}  # the run's own; no output, no temporary file
