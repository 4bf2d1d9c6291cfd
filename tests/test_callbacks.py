"""Callbacks with Keras semantics, driven through the real training loop."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from nntrain.engine.layers import Dense
from nntrain.engine.model import Sequential
from nntrain.errors import ConfigError
from nntrain.training.callbacks import Callback, CSVLogger, EarlyStopping, LearningRateScheduler, ReduceLROnPlateau
from nntrain.training.loop import Trainer
from nntrain.training.progress import TrainingWatch
from tests.helpers import ROOT

CONFIGS = ROOT / "tests" / "configs"


class Scripted(Callback):
    """Replaces the logged value of `key` with a scripted sequence, to drive monitors deterministically."""

    def __init__(self, key, values):
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs):
        logs[self.key] = self.values[epoch]


def small_model(lr=0.01, seed=0):
    model = Sequential([Dense(4, activation="relu"), Dense(1)], input_shape=(3,), seed=seed)
    model.compile(loss="mse", optimizer={"name": "sgd", "learning_rate": lr})
    return model


def data(n=32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]


def run(callbacks, epochs, val=True, model=None):
    model = model or small_model()
    x, y = data()
    trainer = Trainer(model, x, y, epochs=epochs, batch_size=8, validation_data=(x, y) if val else None,
                      callbacks=callbacks)
    trainer.run()
    return trainer


def test_early_stopping_stops_after_patience_and_restores_best():
    # val_loss: improves until epoch 3 (index 2), then worsens; patience 2 stops at epoch 5 (index 4)
    values = [5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 3.8]
    seen = {}

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, logs):
            seen[epoch] = self.model.get_weights()

    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    trainer = run([Scripted("val_loss", values), Snapshot(), es], epochs=7)
    assert len(trainer.history.epoch) == 5
    assert es.best == 3.0 and es.best_epoch == 2 and es.stopped_epoch == 4
    for layer, arrays in seen[2].items():
        for key, value in arrays.items():
            np.testing.assert_array_equal(trainer.model.get_layer(layer).get_weights()[key], value)


def test_early_stopping_restores_best_even_when_patience_never_ran_out():
    values = [3.0, 1.0, 2.0, 2.5]  # best at index 1, patience 10: never stops (Keras 3 still restores)
    seen = {}

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, logs):
            seen[epoch] = self.model.get_weights()

    es = EarlyStopping(patience=10, restore_best_weights=True)
    trainer = run([Scripted("val_loss", values), Snapshot(), es], epochs=4)
    assert len(trainer.history.epoch) == 4 and es.stopped_epoch == 0
    for layer, arrays in seen[1].items():
        for key, value in arrays.items():
            np.testing.assert_array_equal(trainer.model.get_layer(layer).get_weights()[key], value)


def test_early_stopping_min_delta_and_max_mode():
    values = [0.50, 0.505, 0.508, 0.509]  # accuracy creeping up by less than min_delta 0.01
    es = EarlyStopping(monitor="val_acc", patience=2, min_delta=0.01)
    assert es.direction == "up"
    trainer = run([Scripted("val_acc", values), es], epochs=4)
    assert len(trainer.history.epoch) == 3  # wait reaches 2 at index 2


def test_reduce_lr_on_plateau_multiplies_lr_after_patience_and_cooldown():
    values = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    cb = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.002)
    trainer = run([Scripted("val_loss", values), cb], epochs=7)
    lrs = [float(f"{v:.6g}") for v in trainer.history.history["learning_rate"]]
    # Keras's rule by hand: wait reaches patience 2 after epochs 3, 5 and 7 (the cooldown epoch resets wait
    # to 0 and then counts), so the rate halves after those epochs; the logged rate is the one each epoch used.
    assert lrs == [0.01, 0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025]
    assert float(trainer.model.optimizer.learning_rate) == pytest.approx(0.002)  # floored at min_lr


def test_learning_rate_scheduler_table_by_epoch():
    cb = LearningRateScheduler({1: 0.1, 3: 0.01})
    trainer = run([cb], epochs=4, val=False)
    assert [round(v, 6) for v in trainer.history.history["learning_rate"]] == [0.1, 0.1, 0.01, 0.01]


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    run([CSVLogger(str(path))], epochs=3)
    rows = list(csv.DictReader(path.open()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"] and "val_loss" in rows[0]


def test_terminate_on_nan_is_a_registered_callback_and_custom_callbacks_load(tmp_path):
    (tmp_path / "mycb.py").write_text(
        "from nntrain.training.callbacks import Callback\n"
        "class Count(Callback):\n"
        "    def __init__(self, start=0):\n"
        "        self.n = start\n"
        "    def on_epoch_end(self, epoch, logs):\n"
        "        self.n += 1\n")
    cb = _config_callbacks(tmp_path, "  - mycb:Count: {start: 10}\n")[0]
    run([cb], epochs=3, val=False)
    assert cb.n == 13
    with pytest.raises(ConfigError, match="did you mean `Count`"):
        _config_callbacks(tmp_path, "  - mycb:Cont: {}\n")
    assert type(_config_callbacks(tmp_path, "  - terminate_on_nan: {}\n")[0]).__name__ == "TerminateOnNaN"


def _config_callbacks(folder, entries: str) -> list:
    """The callbacks a config's `callbacks:` entries build, as a run builds them (custom ones from `folder`)."""
    from nntrain.config import load_config
    from nntrain.config.build import build_callbacks

    (folder / "cb.yaml").write_text((CONFIGS / "iris_small.yaml").read_text() + "callbacks:\n" + entries)
    return build_callbacks(load_config(folder / "cb.yaml"))


def test_tensorboard_writes_event_files(tmp_path):
    pytest.importorskip("tensorboardX")
    cb = _config_callbacks(tmp_path, f"  - tensorboard: {{log_dir: {tmp_path / 'tb'}, outside_run_folder: true}}\n")[0]
    run([cb], epochs=2)
    events = list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert {e.parent.name for e in events} == {"train", "validation"}
    assert all(e.stat().st_size > 0 for e in events)
    assert b"epoch_loss" in events[0].read_bytes()


def test_training_watch_warns_once_about_overfitting():
    messages = []
    val = [1.0, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
    train = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    trainer = run([Scripted("val_loss", val), Scripted("loss", train), TrainingWatch(messages.append)], epochs=7)
    assert len(trainer.history.epoch) == 7
    assert len(messages) == 1 and "overfitting" in messages[0] and "epoch 2" in messages[0]
