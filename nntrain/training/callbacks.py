"""Callbacks with Keras names and semantics: early_stopping, model_checkpoint, reduce_lr_on_plateau,
learning_rate_scheduler, csv_logger, terminate_on_nan, tensorboard, and custom classes.

A callback sees the Trainer (`self.trainer`, and `self.model`). Its `get_state()` returns what an exact
resume needs: a nested dict of numbers, strings and numpy arrays (stored in the checkpoint).
"""

from __future__ import annotations

import csv
import importlib
import math
import sys
from collections import defaultdict
from pathlib import Path

from nntrain.engine import monitor as monitor_rule
from nntrain.errors import ConfigError
from nntrain.registry import Registry

CALLBACKS = Registry("callback")


class Callback:
    """Base class: override any hook. `self.trainer` is set before training starts."""

    trainer = None

    @property
    def model(self):
        return self.trainer.model

    def on_train_begin(self): ...
    def on_epoch_begin(self, epoch: int): ...
    def on_train_batch_end(self, step: int): ...
    def on_epoch_end(self, epoch: int, logs: dict): ...
    def on_train_end(self): ...
    def on_interrupt(self): ...

    def get_state(self) -> dict:
        return {}

    def set_state(self, state: dict) -> None:
        pass


class CallbackList:
    """Calls every callback's hook in order; keeps per-callback state under a stable key."""

    def __init__(self, callbacks: list[Callback], trainer):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.trainer = trainer

    def _keys(self):
        seen: dict[str, int] = {}
        for cb in self.callbacks:
            name = type(cb).__name__
            seen[name] = seen.get(name, 0) + 1
            yield (name if seen[name] == 1 else f"{name}_{seen[name]}"), cb

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args):
            for cb in self.callbacks:
                getattr(cb, hook)(*args)

        return call

    def get_state(self) -> dict:
        return {key: cb.get_state() for key, cb in self._keys()}

    def set_state(self, state: dict) -> None:
        for key, cb in self._keys():
            if key in state:
                cb.set_state(state[key])


class MonitorCallback(Callback):
    """A callback that watches one logged value: `direction` comes from the one rule in engine/monitor.py (or
    from an explicit `mode`), and `improved` is the only "has it improved" test the callbacks use."""

    def __init__(self, monitor: str, mode: str = "auto", min_delta: float = 0.0):
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(float(min_delta))
        self.direction = monitor_rule.resolve(monitor, mode)

    def improved(self, value: float, reference: float | None) -> bool:
        return monitor_rule.is_improvement(value, reference, self.direction, self.min_delta)


def _get_monitored(logs: dict, monitor: str, who: str):
    value = logs.get(monitor)
    if value is None:
        raise ConfigError(f"{who} monitors `{monitor}`, which is not logged; available: {', '.join(sorted(logs))}")
    return float(value)


@CALLBACKS.register("early_stopping", "EarlyStopping")
class EarlyStopping(MonitorCallback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs (Keras 3 rules).
    restore_best_weights restores the best epoch's weights at the end, also when patience never ran out."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
                 baseline: float | None = None, restore_best_weights: bool = False, start_from_epoch: int = 0):
        if not isinstance(patience, int) or patience < 0:
            raise ConfigError(f"early_stopping patience expects a non-negative integer, got {patience!r}")
        super().__init__(monitor, mode, min_delta)
        self.patience, self.baseline = patience, baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.reset()

    def reset(self):
        self.wait, self.stopped_epoch, self.best, self.best_epoch, self.best_weights = 0, 0, None, 0, None

    def on_epoch_end(self, epoch, logs):
        current = logs.get(self.monitor)
        if current is None:
            _get_monitored(logs, self.monitor, "early_stopping")
        if epoch < self.start_from_epoch or math.isnan(current):
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self.improved(current, self.best):
            self.best, self.best_epoch = float(current), epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self.improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True
            self.trainer.stop_reason = (f"early stopping: `{self.monitor}` did not improve for {self.wait} epochs "
                                        f"(best {self.best:.6g} at epoch {self.best_epoch + 1})")
            if self.restore_best_weights:
                self.trainer.stop_reason += f"; the model keeps the weights of epoch {self.best_epoch + 1}"

    def on_train_end(self):
        if self.restore_best_weights and self.best_weights is not None and not self.trainer.interrupted:
            self.model.set_weights(self.best_weights)

    def get_state(self):
        state = {"wait": self.wait, "stopped_epoch": self.stopped_epoch, "best": self.best,
                 "best_epoch": self.best_epoch}
        if self.best_weights is not None:
            state["best_weights"] = self.best_weights
        return state

    def set_state(self, state):
        self.wait, self.stopped_epoch = int(state["wait"]), int(state["stopped_epoch"])
        self.best = None if state["best"] is None else float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.best_weights = state.get("best_weights")


@CALLBACKS.register("reduce_lr_on_plateau", "ReduceLROnPlateau")
class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by `factor` when `monitor` has stalled for `patience` epochs (Keras rules:
    improvement means beating the best by min_delta; after a reduction wait `cooldown` epochs)."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, mode: str = "auto",
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0):
        if not 0 < factor < 1:
            raise ConfigError(f"reduce_lr_on_plateau factor expects a number in (0, 1), got {factor!r}")
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience = float(factor), int(patience)
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)
        self.wait, self.cooldown_counter, self.best = 0, 0, None

    def on_epoch_end(self, epoch, logs):
        current = _get_monitored(logs, self.monitor, "reduce_lr_on_plateau")
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improved(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > self.min_lr:
                    self.model.optimizer.set_learning_rate(max(old * self.factor, self.min_lr))
                    self.cooldown_counter, self.wait = self.cooldown, 0

    def get_state(self):
        return {"wait": self.wait, "cooldown_counter": self.cooldown_counter, "best": self.best}

    def set_state(self, state):
        self.wait, self.cooldown_counter = int(state["wait"]), int(state["cooldown_counter"])
        self.best = None if state["best"] is None else float(state["best"])


def import_object(spec: str, base_dir: Path | None = None):
    """`package.module:Name` (or `file_stem:Name` next to the config) -> the object."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(f"expected `module.path:Name`, got {spec!r}")
    module_name, _, attr = spec.partition(":")
    added = False
    if base_dir is not None and str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
        added = True
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # not found, a SyntaxError (its file and line), or the module's own code failing
        detail = (f"{exc.filename}:{exc.lineno}: {exc.msg}" if isinstance(exc, SyntaxError) else
                  str(exc) if isinstance(exc, ImportError) else f"{type(exc).__name__}: {exc}")
        raise ConfigError(f"cannot import module `{module_name}` for {spec!r}: {detail}") from None
    finally:
        if added:
            sys.path.remove(str(base_dir))
    if not hasattr(module, attr):
        names = [n for n in dir(module) if not n.startswith("_")]
        from nntrain.registry import did_you_mean

        raise ConfigError(f"module `{module_name}` has no `{attr}`{did_you_mean(attr, names)}")
    return getattr(module, attr)


@CALLBACKS.register("learning_rate_scheduler", "LearningRateScheduler")
class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start: `schedule` is {epoch: lr} (epochs counted from 1; the last
    entry at or before the epoch applies) or a `module:function` called as function(epoch, lr) -> lr."""

    def __init__(self, schedule, base_dir: str | None = None):
        self.schedule = schedule
        self.base_dir = base_dir
        if isinstance(schedule, dict):
            try:
                self._table = sorted((int(k), float(v)) for k, v in schedule.items())
            except (TypeError, ValueError):
                raise ConfigError(f"learning_rate_scheduler schedule expects {{epoch: rate}}, got {schedule!r}") from None
            self._fn = None
        else:
            self._fn = import_object(schedule, Path(base_dir) if base_dir else None)
            if not callable(self._fn):
                raise ConfigError(f"learning_rate_scheduler schedule {schedule!r} is not a function")

    def on_epoch_begin(self, epoch):
        lr = float(self.model.optimizer.learning_rate)
        if self._fn is not None:
            new = float(self._fn(epoch, lr))
        else:
            applicable = [v for e, v in self._table if e <= epoch + 1]
            if not applicable:
                return
            new = applicable[-1]
        if not math.isfinite(new) or new < 0:
            raise ConfigError(f"learning_rate_scheduler returned {new!r} for epoch {epoch + 1}")
        self.model.optimizer.set_learning_rate(new)


@CALLBACKS.register("terminate_on_nan", "TerminateOnNaN")
class TerminateOnNaN(Callback):
    """Stop as soon as the running training loss is NaN or infinite."""

    def on_train_batch_end(self, step):
        t = self.trainer.tracker
        if t is not None and not math.isfinite(t.loss):
            self.trainer.stop_training = True
            self.trainer.nan_detected = True
            self.trainer.stop_reason = f"the training loss became {t.loss} at epoch {self.trainer.epoch + 1}, step {step + 1}"


@CALLBACKS.register("csv_logger", "CSVLogger")
class CSVLogger(Callback):
    """Append one row per epoch to a CSV file (written and flushed every epoch)."""

    def __init__(self, filename: str, separator: str = ",", append: bool = False):
        self.filename, self.separator, self.append = str(filename), separator, bool(append)
        self._keys = None

    def on_train_begin(self):
        path = Path(self.filename)
        if not self.append and self.trainer.epoch == 0 and path.exists():
            path.unlink()

    def on_epoch_end(self, epoch, logs):
        path = Path(self.filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        keys = ["epoch", *logs]
        with path.open("a", newline="") as f:
            w = csv.writer(f, delimiter=self.separator)
            if new:
                w.writerow(keys)
            w.writerow([epoch + 1, *(f"{v:.8g}" for v in logs.values())])


def _check_filepath(filepath: str) -> None:
    """A model_checkpoint filepath is formatted with named fields only ({epoch}, {val_loss:.4f}), as in Keras."""
    try:  # positional fields, attributes and indexes fail here, as does a format code a number cannot take
        filepath.format_map(defaultdict(lambda: 0.5, epoch=1))  # every logged value is a float
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise ConfigError(f"model_checkpoint filepath {filepath!r}: {exc}; use names such as {{epoch:03d}} or "
                          f"{{val_loss:.4f}}, and {{{{ }}}} for literal braces") from None


@CALLBACKS.register("model_checkpoint", "ModelCheckpoint")
class ModelCheckpoint(MonitorCallback):
    """Save a full checkpoint to `filepath` every `save_freq` epochs; with save_best_only, only when `monitor`
    improves (Keras semantics). `{epoch}` and metric names in filepath are formatted like Keras.

    The save function is `nntrain.runs.checkpoint.save_trainer` (atomic write), with the extras the trainer carries.
    """

    def __init__(self, filepath: str, monitor: str = "val_loss", mode: str = "auto", save_best_only: bool = False,
                 save_freq: int = 1):
        if isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1:
            raise ConfigError(f"model_checkpoint save_freq expects a positive number of epochs, got {save_freq!r}")
        super().__init__(monitor, mode)
        self.filepath, self.save_best_only, self.save_freq = str(filepath), save_best_only, save_freq
        _check_filepath(self.filepath)
        self.best = None

    def on_epoch_end(self, epoch, logs):
        if getattr(self.trainer, "nan_detected", False) or (epoch + 1) % self.save_freq:
            return
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                _get_monitored(logs, self.monitor, "model_checkpoint")
            if not self.improved(current, self.best):
                return
            self.best = float(current)
            self.best_epoch = epoch
        from nntrain.runs.checkpoint import save_trainer

        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as exc:
            raise ConfigError(f"model_checkpoint filepath {self.filepath!r} names {{{exc.args[0]}}}, which is not "
                              f"logged; available: epoch, {', '.join(sorted(logs))}") from None
        save_trainer(path, self.trainer)

    def get_state(self):
        return {"best": self.best}

    def set_state(self, state):
        self.best = None if state.get("best") is None else float(state["best"])


@CALLBACKS.register("tensorboard", "TensorBoard")
class TensorBoard(Callback):
    """Write scalars (every logged value, per epoch) as TensorBoard event files through tensorboardX."""

    def __init__(self, log_dir: str = "logs"):
        try:
            from tensorboardX import SummaryWriter  # noqa: F401
        except ImportError:
            raise ConfigError("the tensorboard callback needs tensorboardX: pip install 'nntrain[tensorboard]'") from None
        self.log_dir = str(log_dir)
        self._writers = {}

    def _writer(self, kind):
        from tensorboardX import SummaryWriter

        if kind not in self._writers:
            self._writers[kind] = SummaryWriter(str(Path(self.log_dir) / kind))
        return self._writers[kind]

    def on_epoch_end(self, epoch, logs):
        for key, value in logs.items():
            kind, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            self._writer(kind).add_scalar(f"epoch_{name}", value, epoch + 1)
        for w in self._writers.values():
            w.flush()

    def on_train_end(self):
        for w in self._writers.values():
            w.close()
        self._writers = {}
