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


def bar_line(width: int, epoch: str, step: int, steps: int, eta: str, rate: str, logs: str):
    """One redraw of the live bar as rich Text, under `width` columns: the epoch, the bar, the step counter and the
    ETA always whole and in place; the samples/s rate when there is room; the metrics cut to what fits, item by item
    (a trailing … says some were left out; the epoch's summary line has them all)."""
    from rich.text import Text

    counter = f"{step:>{len(str(steps))}}/{steps}"
    eta = f"{eta:<8}"  # "ETA 1.4s", "ETA 3:05": one width, so nothing after it moves
    room = max(width - 1 - len(epoch) - len(counter) - len(eta) - 3, 0)  # -1: never the terminal's last column
    bar = 40 if room >= 100 else max(10, min(40, room // 3))
    tail = room - bar
    parts = [rate] if rate and tail >= len(rate) + 40 else []
    parts.append(_fit(logs, tail - sum(len(p) + 1 for p in parts) - 1))
    filled = min(bar, round(bar * step / steps)) if steps else 0
    text = Text(f"{epoch} ", no_wrap=True, overflow="crop")
    text.append("━" * filled, "bar.complete")
    text.append("━" * (bar - filled), "bar.back")
    text.append(f" {counter} {eta}")
    for part in parts:
        if part:
            text.append(f" {part}")
    return text


def _fit(logs: str, room: int) -> str:
    """`loss: 0.1 - accuracy: 0.9 - ...` with as many whole items as fit in `room` characters."""
    if len(logs) <= room:
        return logs
    items, shown = logs.split(" - "), ""
    for item in items:
        longer = f"{shown} - {item}" if shown else item
        if len(longer) + 2 > room:
            break
        shown = longer
    return f"{shown} …" if shown else ""


def _duration(seconds: float) -> str:
    """1.4s, 42s, 3:05, 1:02:07."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def overfitting_remedies(trainer) -> str:
    """What to try against overfitting, leaving out what the run does already (early stopping, its
    restore_best_weights, dropout, weight regularization)."""
    from nntrain.engine.layers import Dropout
    from nntrain.training.callbacks import EarlyStopping

    stopping = [cb for cb in trainer.callbacks.callbacks if isinstance(cb, EarlyStopping)]
    layers = trainer.model.layers
    options = []
    if not stopping:
        options.append("early_stopping with restore_best_weights: true")
    elif not any(cb.restore_best_weights for cb in stopping):
        options.append("restore_best_weights: true in early_stopping")
    if not any(isinstance(layer, Dropout) for layer in layers):
        options.append("dropout")
    if not any(layer.regularized for layer in layers):
        options.append("a kernel_regularizer")
    if not options:
        return "early stopping, dropout and regularization are on already: try a smaller model or more data"
    return "consider " + (options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}")


class TrainingWatch(Callback):
    """Spots what a user should know, once each: validation loss rising while training loss falls
    (overfitting), a NaN loss, a loss that explodes (learning rate too high). Its advice never suggests what
    the run already does."""

    def __init__(self, emit, scaled_inputs: bool = False):
        self.emit, self.scaled_inputs = emit, scaled_inputs  # scaled_inputs: the config scales the inputs already
        self.shown: set[str] = set()
        self.first_loss = None
        self.losses: list[float] = []
        self.val_losses: list[float] = []
        self.val_epochs: list[int] = []  # 1-based epochs of val_losses (a resumed run starts past epoch 1)

    def _nan_remedies(self) -> str:
        """Lowering the learning rate, and scaling the inputs or clipping gradients unless the run does already."""
        optimizer = self.trainer.model.optimizer
        options = ["lower the learning rate"]
        if not self.scaled_inputs:
            options.append("scale the inputs (standardize)")
        if all(getattr(optimizer, k, None) is None for k in ("clipnorm", "clipvalue", "global_clipnorm")):
            options.append("clip gradients (optimizer.clipnorm)")
        return ", ".join(options[:-1]) + (" or " if len(options) > 1 else "") + options[-1]

    def _once(self, key, message):
        if key not in self.shown:
            self.shown.add(key)
            self.emit(message)

    def on_epoch_end(self, epoch, logs):
        loss = logs.get("loss")
        if loss is None:
            return
        if not math.isfinite(loss):
            self._once("nan", f"the training loss is {loss} at epoch {epoch + 1}: {self._nan_remedies()}")
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
        self.val_epochs.append(epoch + 1)
        if len(self.val_losses) >= 4:
            v, t = self.val_losses[-4:], self.losses[-4:]
            if all(b > a for a, b in zip(v, v[1:])) and all(b < a for a, b in zip(t, t[1:])):
                best = min(self.val_losses)
                best_epoch = self.val_epochs[self.val_losses.index(best)]
                self._once("overfit", f"validation loss has risen for 3 epochs while training loss falls "
                                      f"(overfitting); the best val_loss was {best:.4g} at epoch {best_epoch}: "
                                      f"{overfitting_remedies(self.trainer)}")


class ProgressDisplay(Callback):
    """Keras verbose=1 style: per-epoch bar (step/steps, samples/s, ETA, live loss) then a summary line.

    The bar redraws at most 5 times a second, the first time 0.2 s into an epoch, so an epoch shorter than that is
    never drawn: only its summary line is printed. Between redraws a step costs one integer comparison: the clock is
    read only at the step where, at the rate seen so far, the next redraw falls due. One rich live display serves
    the whole run, started at the first draw, its task reset at each epoch's first draw. A redraw costs ~1-2 ms, so
    the bar stays near 1% of an epoch, at batch size 1 too. In "line" mode nothing but one plain line per epoch is
    written: no control codes.
    """

    REFRESH = 0.2

    def __init__(self, mode: str = "auto", console=None, stream=None):
        self.stream = stream or sys.stdout
        self.mode = resolve_mode(mode, self.stream)
        self.console = console
        self._progress = None
        self._task = None
        self._next = 0.0
        self._drawn = False  # whether the bar has been drawn in this epoch
        self._bar = self.mode == "bar"
        self._check_step = 0  # the next step at which to read the clock

    def _console(self):
        if self.console is None:
            from rich.console import Console

            self.console = Console(file=self.stream, highlight=False, emoji=False)  # names print as typed
        return self.console

    def warn(self, message: str) -> None:
        if self.mode == "none":
            return
        if self.mode == "bar":
            from rich.text import Text

            self._console().print(Text.assemble(("warning:", "yellow"), f" {message}"))
        else:
            print(f"warning: {message}", file=self.stream, flush=True)

    def _start_bar(self) -> None:
        from rich.progress import Progress, ProgressColumn

        console = self._console()

        class Line(ProgressColumn):  # the whole line, laid out for the console's width at each redraw
            def render(self, task):
                f = task.fields
                return bar_line(console.width, f["epoch"], int(task.completed), int(task.total or 0), f["eta"],
                                f["rate"], f["logs"])

        self._progress = Progress(Line(), console=console, transient=True, auto_refresh=False)
        self._progress.start()
        self._task = self._progress.add_task("train", total=self.trainer.steps_per_epoch, epoch="", rate="",
                                             eta="", logs="", visible=False)

    def on_epoch_begin(self, epoch):
        self._t0 = time.perf_counter()
        self._next = self._t0 + self.REFRESH
        self._drawn = False
        self._check_step = 0
        self._last_step = self.trainer.steps_per_epoch - 1

    def on_train_batch_end(self, step):
        if step < self._check_step or not self._bar:
            return
        now = time.perf_counter()
        last = step == self._last_step
        # the last step redraws (validation may follow) only when the bar is already showing
        if now < self._next and not (self._drawn and last):
            self._plan_check(step, now)
            return
        self._next = now + self.REFRESH
        self._plan_check(step, now)
        t = self.trainer
        if self._progress is None:
            self._start_bar()
        done = min((step + 1) * t.batch_size, t.n)
        rate = done / max(now - self._t0, 1e-9)
        # the ETA from this epoch's own pace (rich's estimate needs several redraws to settle)
        left = (t.steps_per_epoch - step - 1) * (now - self._t0) / (step + 1)
        fields = {"epoch": f"Epoch {t.epoch + 1}/{t.epochs}", "rate": f"{rate:,.0f} samples/s",
                  "eta": f"ETA {_duration(left)}", "logs": format_logs(t.running_logs())}
        if not self._drawn:  # reset() redraws: the first frame of an epoch already shows its numbers
            self._drawn = True
            self._progress.reset(self._task, total=t.steps_per_epoch, completed=step + 1, visible=True, **fields)
        else:
            self._progress.update(self._task, completed=step + 1, **fields)
            self._progress.refresh()

    def _plan_check(self, step: int, now: float) -> None:
        """Read the clock next at the step where, at this epoch's rate so far, the next redraw falls due (the last
        step at the latest, once the bar shows)."""
        per_step = (now - self._t0) / (step + 1)
        ahead = int((self._next - now) / per_step) if per_step > 0 else 0
        self._check_step = step + max(1, ahead)
        if self._drawn:
            self._check_step = min(self._check_step, self._last_step)

    def _stop_bar(self):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def on_epoch_end(self, epoch, logs):
        if self.mode == "none":
            return
        t = self.trainer
        line = (f"Epoch {epoch + 1}/{t.epochs} - {logs.get('seconds', 0):.2f}s - {format_logs(logs)}"
                f" - lr: {logs.get('learning_rate', 0):.4g}")
        if self.mode == "bar" and self._progress is not None:
            if self._drawn:
                self._progress.update(self._task, visible=False, refresh=True)  # the summary line replaces the bar
            self._console().print(line, highlight=False, markup=False)  # printed above the live display
        elif self.mode == "bar":  # no live display yet (short epochs): a plain write, ~50x cheaper than rich's print
            print(line, file=self._console().file, flush=True)
        else:
            print(line, file=self.stream, flush=True)

    def on_train_end(self):
        self._stop_bar()

    def on_interrupt(self):
        self._stop_bar()
