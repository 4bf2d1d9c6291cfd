"""`nntrain fit` end to end, as a user runs it: run folder contents, checkpoints that reload to identical
predictions, exact resume after a real SIGINT, atomic checkpoint writes, plain output off a terminal.

The SIGINT / resume test and the killed checkpoint writer use real processes; the other commands run in-process."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from nntrain.commands.fit import fit
from nntrain.commands.prepare import load_bundle
from nntrain.runs import checkpoint
from nntrain.training.loop import predict
from tests.helpers import ROOT, invoke, run_process

IRIS = """\
name: iris-test
seed: 7
data:
  dataset: iris
  preprocessing: [standardize]
model:
  layers:
    - Dense: {units: 16, activation: relu}
    - Dropout: {rate: 0.1}
    - Dense: {units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: 5, batch_size: 16, validation_split: 0.2}
"""

# digits, small batches: long enough epochs to interrupt one mid-way
DIGITS = """\
name: digits-resume
seed: 3
data:
  dataset: digits
  preprocessing: [{rescale: {scale: 0.0625}}]
model:
  layers:
    - Dense: {units: 64, activation: relu}
    - Dropout: {rate: 0.2}
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
optimizer: {name: rmsprop, learning_rate: 0.001}
training: {epochs: EPOCHS, batch_size: 2, validation_split: 0.2}
callbacks:
  - reduce_lr_on_plateau: {patience: 2, factor: 0.5}
  - early_stopping: {patience: 50}
"""


def history_rows(run_dir):
    with open(run_dir / "history.csv") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def weights_of(path):
    with h5py.File(path, "r") as f:
        out = {}
        f["weights"].visititems(lambda k, o: out.__setitem__(k, o[()]) if isinstance(o, h5py.Dataset) else None)
        return out


def test_fit_writes_a_complete_run_folder(tmp_path):
    (tmp_path / "iris.yaml").write_text(IRIS)
    result = invoke("fit", "iris.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = tmp_path / "runs" / "iris-test"
    for name in ("config.yaml", "summary.txt", "history.csv", "metrics.json", "run.json", "splits.npz",
                 "checkpoints/last.h5", "checkpoints/best.h5"):
        assert (run / name).is_file(), name
    rows = history_rows(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(rows[0])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["final"]["val_accuracy"] == pytest.approx(float(rows[-1]["val_accuracy"]))
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["epochs"] == 5
    assert info["numpy_version"] == np.__version__ and "blas" in info and info["command"]
    resolved = (run / "config.yaml").read_text()
    assert "seed: 7" in resolved and "shuffle: true" in resolved  # defaults filled in
    assert "Total params: 131" in (run / "summary.txt").read_text()  # 4*16+16 + 16*3+3
    splits = np.load(run / "splits.npz")
    assert len(splits["train"]) + len(splits["val"]) == 120 and len(splits["test"]) == 30
    # a second run of the same name never overwrites the first
    again = invoke("fit", "iris.yaml", "--set", "training.epochs=1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "runs" / "iris-test-2" / "history.csv").exists()
    assert len(history_rows(run)) == 5


def test_non_terminal_output_is_plain_lines(tmp_path):
    (tmp_path / "iris.yaml").write_text(IRIS)
    result = invoke("fit", "iris.yaml", cwd=tmp_path)
    assert result.returncode == 0
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("Epoch ")]
    assert len(epoch_lines) == 5 and "val_accuracy" in epoch_lines[-1]
    quiet = invoke("fit", "iris.yaml", "--quiet", cwd=tmp_path)
    assert quiet.stdout.strip().endswith("iris-test-2")


def test_checkpoint_reloads_to_identical_predictions(tmp_path):
    (tmp_path / "iris.yaml").write_text(IRIS)
    seen = {}
    result = fit(tmp_path / "iris.yaml", runs_dir=tmp_path / "runs",
                 on_start=lambda run_dir, cfg, model: seen.update(model=model, cfg=cfg))
    model, cfg = seen["model"], seen["cfg"]
    bundle = load_bundle(cfg)
    expected = predict(model, bundle.test.x)
    ckpt = checkpoint.load(result.run_dir / "checkpoints" / "last.h5")
    reloaded = checkpoint.model_from_checkpoint(ckpt)
    np.testing.assert_array_equal(predict(reloaded, bundle.test.x), expected)
    assert ckpt.epoch == 5 and ckpt.preprocessing is not None


def _interrupt_after(cmd, cwd, epochs_seen: int):
    """Start `nntrain fit`, send SIGINT once `epochs_seen` epoch lines are printed."""
    proc = subprocess.Popen([sys.executable, "-m", "nntrain", *cmd], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = 0
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Epoch "):
            seen += 1
            if seen == epochs_seen:  # the line comes after the epoch's checkpoint: we land in the next epoch
                proc.send_signal(signal.SIGINT)
                break
    out, err = proc.communicate(timeout=120)
    return proc.returncode, "".join(lines) + out, err


def test_resume_after_sigint_is_bit_identical(tmp_path):
    (tmp_path / "full.yaml").write_text(DIGITS.replace("EPOCHS", "6").replace("digits-resume", "full"))
    (tmp_path / "cut.yaml").write_text(DIGITS.replace("EPOCHS", "6").replace("digits-resume", "cut"))
    straight = invoke("fit", "full.yaml", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    code, out, err = _interrupt_after(["fit", "cut.yaml"], tmp_path, epochs_seen=2)  # a real process and signal
    assert code == 130, err
    assert "nntrain fit --resume runs/cut" in out + err
    assert "Traceback" not in err
    info = json.loads((tmp_path / "runs" / "cut" / "run.json").read_text())
    assert info["status"] == "interrupted"
    assert len(history_rows(tmp_path / "runs" / "cut")) == 2
    resumed = run_process("fit", "--resume", "runs/cut", cwd=tmp_path)  # as a user would: a new process
    assert resumed.returncode == 0, resumed.stderr
    assert history_rows(tmp_path / "runs" / "cut") == history_rows(tmp_path / "runs" / "full")
    a = weights_of(tmp_path / "runs" / "full" / "checkpoints" / "last.h5")
    b = weights_of(tmp_path / "runs" / "cut" / "checkpoints" / "last.h5")
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_resume_accepts_more_epochs_and_records_it(tmp_path):
    (tmp_path / "iris.yaml").write_text(IRIS.replace("epochs: 5", "epochs: 2"))
    assert invoke("fit", "iris.yaml", cwd=tmp_path).returncode == 0
    more = invoke("fit", "--resume", "runs/iris-test", "--set", "training.epochs=4", cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    run = tmp_path / "runs" / "iris-test"
    assert [int(r["epoch"]) for r in history_rows(run)] == [1, 2, 3, 4]
    info = json.loads((run / "run.json").read_text())
    assert info["resumes"][0]["overrides"] == ["training.epochs=4"] and info["resumes"][0]["from_epoch"] == 2
    assert "epochs: 4" in (run / "config.yaml").read_text()


def test_a_failed_write_leaves_the_previous_checkpoint_loadable(tmp_path, monkeypatch):
    from nntrain.engine.layers import Dense
    from nntrain.engine.model import Sequential

    model = Sequential([Dense(4), Dense(2)], input_shape=(3,), seed=1)
    path = tmp_path / "last.h5"
    checkpoint.save(path, model)
    before = checkpoint.load(path).weights
    for layer in model.layers:
        for p in layer.params.values():
            p += 1.0

    def crash(tmp, dest):
        raise OSError("killed between write and rename")

    monkeypatch.setattr(checkpoint, "_replace", crash)
    with pytest.raises(OSError):
        checkpoint.save(path, model)
    after = checkpoint.load(path).weights
    for layer, arrays in before.items():
        for key, value in arrays.items():
            np.testing.assert_array_equal(after[layer][key], value)
    assert [p.name for p in tmp_path.iterdir()] == ["last.h5"]  # no temporary file left behind


def test_killed_writer_never_corrupts_the_checkpoint(tmp_path):
    """A process saving a large checkpoint in a loop is SIGKILLed at random times; the file always loads."""
    script = tmp_path / "writer.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from nntrain.runs import checkpoint
from nntrain.engine.layers import Dense
from nntrain.engine.model import Sequential
model = Sequential([Dense(512), Dense(512)], input_shape=(512,), seed=1)
checkpoint.save(sys.argv[1], model)
checkpoint.save(sys.argv[1] + ".first", model)
print("ready", flush=True)
i = 0
while True:
    i += 1
    for layer in model.layers:
        for p in layer.params.values():
            p[...] = i
    checkpoint.save(sys.argv[1], model)
""")
    path = tmp_path / "ckpt.h5"
    for delay in (0.05, 0.13, 0.21):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.kill()
        proc.wait()
        kernel = checkpoint.load(path).weights["dense_1"]["kernel"]
        first = checkpoint.load(f"{path}.first").weights["dense_1"]["kernel"]
        # one consistent save, never a mix or a torn file: the first save (a loaded machine may kill the writer
        # before its loop saved once) or one whole later save
        assert np.array_equal(kernel, first) or np.all(kernel == kernel.flat[0])


def test_terminate_on_nan_keeps_last_good_checkpoint(tmp_path):
    # unscaled housing features with a large SGD step: the loss overflows within a few epochs
    text = """\
name: explode
seed: 1
data: {dataset: boston_housing}
model:
  layers:
    - Dense: {units: 32, activation: relu}
    - Dense: {units: 1}
loss: mse
optimizer: {name: sgd, learning_rate: 0.05}
training: {epochs: 30, batch_size: 32, validation_split: 0.2}
"""
    (tmp_path / "nan.yaml").write_text(text)
    result = invoke("fit", "nan.yaml", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "loss became nan" in result.stderr.lower() or "loss became inf" in result.stderr.lower()
    run = tmp_path / "runs" / "explode"
    assert json.loads((run / "run.json").read_text())["status"] == "failed"
    assert "last good checkpoint" in result.stderr
    ckpt = checkpoint.load(run / "checkpoints" / "last.h5")
    for arrays in ckpt.weights.values():
        for value in arrays.values():
            assert np.isfinite(value).all()


def test_weights_transfer_with_frozen_layer(tmp_path):
    (tmp_path / "a.yaml").write_text(IRIS.replace("name: iris-test", "name: source"))
    assert invoke("fit", "a.yaml", cwd=tmp_path).returncode == 0
    frozen = IRIS.replace("name: iris-test", "name: target").replace(
        "- Dense: {units: 16, activation: relu}", "- Dense: {units: 16, activation: relu, trainable: false}")
    (tmp_path / "b.yaml").write_text(frozen)
    result = invoke("fit", "b.yaml", "--weights", "runs/source/checkpoints/last.h5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    src = weights_of(tmp_path / "runs" / "source" / "checkpoints" / "last.h5")
    dst = weights_of(tmp_path / "runs" / "target" / "checkpoints" / "last.h5")
    np.testing.assert_array_equal(dst["dense/kernel"], src["dense/kernel"])  # frozen: unchanged
    assert not np.array_equal(dst["dense_1/kernel"], src["dense_1/kernel"])  # trained on
    info = json.loads((tmp_path / "runs" / "target" / "run.json").read_text())
    assert "dense" in info["initial_weights"]["layers"]


def test_check_prints_resolved_config_and_summary_without_data(tmp_path):
    text = """\
data: {dataset: fashion_mnist}
model:
  layers:
    - Flatten: {}
    - Dense: {units: 300, activation: relu}
    - Dense: {units: 100, activation: relu}
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: sgd
"""
    (tmp_path / "c.yaml").write_text(text)
    empty = tmp_path / "cache"
    env = {"NNTRAIN_CACHE_DIR": str(empty), "HOME": str(tmp_path), "KERAS_HOME": str(tmp_path / "keras"),
           "NNTRAIN_DATASETS_URL": "http://127.0.0.1:9/unreachable"}
    result = invoke("check", "c.yaml", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "Total params: 266,610" in result.stdout
    assert "235,500" in result.stdout and "30,100" in result.stdout and "1,010" in result.stdout
    assert "batch_size: 32" in result.stdout and "shuffle: true" in result.stdout  # defaults filled in
    assert not (tmp_path / "runs").exists()
    assert not empty.exists() or not any(empty.rglob("*.gz"))  # nothing downloaded


def test_schema_is_json_schema_of_every_section():
    result = invoke("schema")
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["properties"]) >= {"data", "model", "loss", "optimizer", "training", "callbacks"}
    assert schema["properties"]["training"]["properties"]["epochs"]["minimum"] == 1
    text = json.dumps(schema)
    assert "BatchNormalization" in text and "early_stopping" in text and "cosine_decay" in text


def test_resume_with_an_incompatible_change_writes_nothing(tmp_path):
    (tmp_path / "iris.yaml").write_text(IRIS.replace("epochs: 5", "epochs: 1"))
    assert invoke("fit", "iris.yaml", cwd=tmp_path).returncode == 0
    run = tmp_path / "runs" / "iris-test"
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    bad = invoke("fit", "--resume", run, "--set", "model.layers.0.units=32", "--set", "training.epochs=2",
                 cwd=tmp_path)
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "does not fit" in bad.stderr and "Traceback" not in bad.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
