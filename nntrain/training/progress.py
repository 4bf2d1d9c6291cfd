"""What the user sees while training: a rich progress bar per epoch on a terminal, or one plain line per
epoch elsewhere (CI, nohup, `> log.txt`), plus warnings that matter, each shown once."""

from __future__ import annotations

import math
import sys
import time

from nntrain.training.callbacks import Callback

MODES = ("auto", "bar", "line", "none")


def resolve_mode(mode: str, stream=None) -> str:
    stream = stream or sys.stdout
    if mode == "auto":
        return "bar" if getattr(stream, "isatty", lambda: False)() else "line"
    return mode


def format_logs(logs: dict, skip=("seconds", "learning_rate")) -> str:
    return " - ".join(f"{k}: {_num(v)}" for k, v in logs.items() if k not in skip)


def _num(v) -> str:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return str(v)
    return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.4e}"


class TrainingWatch(Callback):
    """Spots what a user should know, once each: validation loss rising while training loss falls
    (overfitting), a NaN loss, a loss that explodes (learning rate too high)."""

    def __init__(self, emit):
        self.emit = emit
        self.shown: set[str] = set()
        self.first_loss = None
        self.losses: list[float] = []
        self.val_losses: list[float] = []

    def _once(self, key, message):
        if key not in self.shown:
            self.shown.add(key)
            self.emit(message)

    def on_epoch_end(self, epoch, logs):
        loss = logs.get("loss")
        if loss is None:
            return
        if not math.isfinite(loss):
            self._once("nan", f"the training loss is {loss} at epoch {epoch + 1}: lower the learning rate, "
                              f"scale the inputs (standardize), or clip gradients (optimizer.clipnorm)")
            return
        if self.first_loss is None:
            self.first_loss = loss
        elif loss > 10 * self.first_loss and loss > 1.0:
            self._once("explode", f"the training loss grew from {self.first_loss:.4g} to {loss:.4g} by epoch "
                                  f"{epoch + 1}: the learning rate ({logs.get('learning_rate', 0):.3g}) is "
                                  f"probably too high")
        if "val_loss" not in logs:
            return
        self.losses.append(loss)
        self.val_losses.append(logs["val_loss"])
        if len(self.val_losses) >= 4:
            v, t = self.val_losses[-4:], self.losses[-4:]
            if all(b > a for a, b in zip(v, v[1:])) and all(b < a for a, b in zip(t, t[1:])):
                best = min(self.val_losses)
                best_epoch = self.val_losses.index(best) + 1
                self._once("overfit", f"validation loss has risen for 3 epochs while training loss falls "
                                      f"(overfitting); the best val_loss was {best:.4g} at epoch {best_epoch}. "
                                      f"Consider early_stopping, dropout or regularization")


class ProgressDisplay(Callback):
    """Keras verbose=1 style: per-epoch bar (step/steps, samples/s, ETA, live loss) then a summary line.

    The bar redraws at most 10 times a second, so its cost stays far below 1% of an epoch even at
    batch size 1. In "line" mode nothing but one plain line per epoch is written: no control codes.
    """

    REFRESH = 0.1

    def __init__(self, mode: str = "auto", console=None, stream=None):
        self.stream = stream or sys.stdout
        self.mode = resolve_mode(mode, self.stream)
        self.console = console
        self._progress = None
        self._task = None
        self._next = 0.0

    def _console(self):
        if self.console is None:
            from rich.console import Console

            self.console = Console(file=self.stream)
        return self.console

    def warn(self, message: str) -> None:
        if self.mode == "none":
            return
        if self.mode == "bar":
            self._console().print(f"[yellow]warning:[/] {message}", highlight=False)
        else:
            print(f"warning: {message}", file=self.stream, flush=True)

    def on_epoch_begin(self, epoch):
        self._t0 = time.perf_counter()
        if self.mode != "bar":
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        t = self.trainer
        self._progress = Progress(
            TextColumn(f"Epoch {epoch + 1}/{t.epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[logs]}"),
            console=self._console(),
            transient=True,
            auto_refresh=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=t.steps_per_epoch, rate="", logs="")
        self._next = 0.0

    def on_train_batch_end(self, step):
        if self._progress is None:
            return
        now = time.perf_counter()
        if now < self._next and step + 1 < self.trainer.steps_per_epoch:
            return
        self._next = now + self.REFRESH
        t = self.trainer
        done = min((step + 1) * t.batch_size, t.n)
        rate = done / max(now - self._t0, 1e-9)
        logs = t.running_logs()
        self._progress.update(self._task, completed=step + 1, rate=f"{rate:,.0f} samples/s",
                              logs=format_logs(logs))
        self._progress.refresh()

    def _stop_bar(self):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def on_epoch_end(self, epoch, logs):
        self._stop_bar()
        if self.mode == "none":
            return
        t = self.trainer
        line = (f"Epoch {epoch + 1}/{t.epochs} - {logs.get('seconds', 0):.2f}s - {format_logs(logs)}"
                f" - lr: {logs.get('learning_rate', 0):.4g}")
        if self.mode == "bar":
            self._console().print(line, highlight=False, markup=False)
        else:
            print(line, file=self.stream, flush=True)

    def on_train_end(self):
        self._stop_bar()

    def on_interrupt(self):
        self._stop_bar()
