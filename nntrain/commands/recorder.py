"""What a run folder records while training: history.csv and metrics.json (kept current within seconds), and
the checkpoints last.h5 and best.h5. "Best" follows the one monitor rule (engine/monitor.py)."""

from __future__ import annotations

import time
from pathlib import Path

from nntrain import runs
from nntrain.engine import monitor as monitor_rule
from nntrain.training.callbacks import Callback

NOT_METRICS = ("seconds", "learning_rate")


def summarize_history(history: dict) -> tuple[dict, dict]:
    """(final values, best value and epoch per key) from a history dict of lists; "best" names the epoch
    best.h5 and early stopping would choose."""
    final = {k: v[-1] for k, v in history.items() if v}
    best = {}
    for k, vals in history.items():
        if k in NOT_METRICS:
            continue
        found = monitor_rule.best_epoch(vals, monitor_rule.direction(k))
        if found is not None:
            best[k] = {"value": found[0], "epoch": found[1] + 1}
    return final, best


def restored_epoch(trainer) -> int | None:
    """The epoch (1-based) whose weights restore_best_weights put back when training ended, or None when the model
    keeps the last epoch's weights (no such callback, or an interrupted run, which restores nothing)."""
    if trainer.interrupted:
        return None
    for cb in trainer.callbacks.callbacks:
        if getattr(cb, "restore_best_weights", False) and getattr(cb, "best_weights", None) is not None:
            return cb.best_epoch + 1
    return None


def metrics_summary(history: dict, epochs: int, monitor: str | None = None, direction: str = "down",
                    kept_epoch: int | None = None) -> dict:
    """metrics.json: the last epoch ("final"), each key's best ("best"), the epoch best.h5 holds ("best_epoch", by
    `monitor`), and the weights the model kept at the end ("kept": `kept_epoch` when restore_best_weights put an
    earlier epoch back, else the last epoch); the last two with every value of their epoch."""
    final, best = summarize_history(history)
    out = {"epochs": epochs, "final": final, "best": best, "best_epoch": None, "kept": None}
    found = monitor_rule.best_epoch(history.get(monitor, []), direction) if monitor else None
    if found is not None:
        out["best_epoch"] = {"monitor": monitor, "epoch": found[1] + 1, "value": found[0],
                             "metrics": _values_at(history, found[1] + 1)}
    epoch = kept_epoch or epochs
    if epoch:
        out["kept"] = {"epoch": epoch, "restored_best_weights": kept_epoch is not None,
                       "metrics": _values_at(history, epoch)}
    return out


def _values_at(history: dict, epoch: int) -> dict:
    """Every loss and metric logged at `epoch` (1-based)."""
    return {k: v[epoch - 1] for k, v in history.items() if k not in NOT_METRICS}


def best_monitor(cfg) -> tuple[str, str]:
    """(monitor, mode) that decides best.h5: the config's model_checkpoint or early_stopping one, else val_loss."""
    for cb in cfg["callbacks"]:
        if cb.get("name") in ("model_checkpoint", "early_stopping") and cb.get("monitor"):
            return cb["monitor"], cb.get("mode", "auto")
    return "val_loss", "auto"


class RunRecorder(Callback):
    """Keeps history.csv and metrics.json current while training: after the first epoch, then at most every
    `interval` seconds, and always at the end (session.py writes them once more however the run ends). Rewriting
    both files after every epoch made a long run of fast epochs quadratic: 600 epochs of a small model spent 80%
    of their time writing files that grow by one row an epoch.

    Args:
        monitor, direction: what decides best.h5 (None without a validation set), for metrics.json's "best_epoch".
    """

    def __init__(self, run_dir: Path, monitor: str | None = None, direction: str = "down", interval: float = 2.0):
        self.run_dir, self.monitor, self.direction, self.interval = run_dir, monitor, direction, interval
        self.last_write: float | None = None

    def on_epoch_end(self, epoch, logs):
        if self.last_write is None or time.monotonic() - self.last_write >= self.interval:
            self.write()

    def write(self, kept_epoch: int | None = None) -> dict:
        """history.csv and metrics.json as they stand; kept_epoch: see `metrics_summary`. Returns metrics.json."""
        h = self.trainer.history
        runs.write_history_csv(self.run_dir / "history.csv", h)
        summary = metrics_summary(h.history, len(h.epoch), self.monitor, self.direction, kept_epoch)
        runs.write_json(self.run_dir / "metrics.json", summary)
        self.last_write = time.monotonic()
        return summary


class CheckpointSaver(Callback):
    """checkpoints/last.h5 (the state after the last completed epoch) and checkpoints/best.h5 (when the
    monitored value improves, if a validation set exists).

    The state is captured in memory at every epoch end (a copy of weights and slots) but written to disk at
    most every `interval` seconds, and always at the end, on Ctrl-C and after a NaN: writing an HDF5 file
    every epoch would cost more than the epoch itself on small data. A hard kill loses at most `interval`
    seconds of training; what is on disk is always a complete, consistent epoch.
    """

    def __init__(self, folder: Path, monitor: str | None, direction: str = "down", interval: float = 5.0):
        self.folder, self.monitor, self.direction, self.interval = folder, monitor, direction, interval
        self.best = None
        self.pending: dict = {}  # file name -> snapshot not yet written
        self.last_write = 0.0

    def on_train_begin(self):
        from nntrain.runs.checkpoint import snapshot_trainer

        self.last_write = time.monotonic()
        if self.trainer.epoch == 0:  # so even an interrupt during epoch 1 leaves a resumable run
            self.pending["last.h5"] = snapshot_trainer(self.trainer)
            self.flush()

    def on_epoch_end(self, epoch, logs):
        from nntrain.runs.checkpoint import snapshot_trainer

        if self.trainer.nan_detected:
            return
        snap = None
        if self.monitor is not None:
            value = logs.get(self.monitor)
            if value is not None and monitor_rule.is_improvement(value, self.best, self.direction):
                self.best = float(value)
                snap = snapshot_trainer(self.trainer)
                self.pending["best.h5"] = snap
        # (taken after `best` is updated, so a resumed run knows the best so far)
        self.pending["last.h5"] = snap if snap is not None else snapshot_trainer(self.trainer)
        if time.monotonic() - self.last_write >= self.interval:
            self.flush()

    def flush(self):
        from nntrain.runs.checkpoint import write

        try:
            for name, snap in list(self.pending.items()):
                write(self.folder / name, snap)
                del self.pending[name]
        except OSError:  # a full disk: the files already there stay; the end of training does not try again
            self.pending.clear()
            raise
        self.last_write = time.monotonic()

    def on_train_end(self):
        self.flush()

    def on_interrupt(self):
        self.flush()

    def get_state(self):
        return {"best": self.best}

    def set_state(self, state):
        self.best = state.get("best")
