"""`nntrain lr-find`: the learning-rate range test (Smith 2015; Géron ch. 10; fastai's `lr_find`).

The config's model trains through the one run function, in a temporary folder that is removed afterwards (no run
is created), while the learning rate grows geometrically from `start` to `end`, one step per batch. The batch
losses are smoothed (an exponential moving average with bias correction, beta 0.98) and the sweep stops early once
the smoothed loss exceeds 4x the best so far: the loss has diverged. Suggestions, on the smoothed curve with its
first 10% left out (the average is still settling there):

    valley      (default) the middle of the longest run of falling loss, a little past its first third: fastai's
                default since 2021, robust to a curve with several dips
    steep       where the loss falls fastest per log-step of learning rate (Lightning's tuner too)
    minimum/10  a tenth of the rate where the smoothed loss is lowest (Géron's rule of thumb: 10x below the climb)

Steps default to one epoch's batches, but at least 100 (a small dataset's epoch has too few points for a curve) and
at most 500; the sweep runs as many epochs as the steps need. The config's callbacks are left out (an early stop or
a learning-rate schedule would cut or bend the sweep).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nntrain.errors import ConfigError
from nntrain.training.callbacks import Callback

METHODS = ("valley", "steep", "minimum/10")
BETA = 0.98  # smoothing of the batch losses
DIVERGED = 4.0  # the sweep stops once the smoothed loss exceeds this times its best
MIN_STEPS, MAX_STEPS = 100, 500


@dataclass
class LRFindResult:
    """The sweep: learning rates, raw and smoothed batch losses, why it stopped, and the suggestions."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    start: float
    end: float
    steps: int
    stopped: str
    suggestions: dict = field(default_factory=dict)
    method: str = "valley"
    plot: str | None = None

    @property
    def suggested(self) -> float | None:
        return self.suggestions.get(self.method)

    def document(self, config) -> dict:
        """What `nntrain lr-find --json` prints (the whole curve included)."""
        lr = self.suggested
        return {"config": str(config), "start": self.start, "end": self.end, "steps": self.steps,
                "stopped": self.stopped, "method": self.method, "suggested": lr, "suggestions": self.suggestions,
                "apply": f"--set optimizer.learning_rate={lr:.3g}" if lr else None, "plot": self.plot,
                "learning_rates": self.lrs, "losses": self.losses, "smoothed": self.smoothed}


class _Sweep(Callback):
    """Sets each step's learning rate, records the batch loss, and stops at the last step or on divergence."""

    def __init__(self, start: float, end: float, steps: int | None):
        self.start, self.end, self.steps = start, end, steps
        self.rates = np.zeros(0)
        self.lrs, self.losses, self.smoothed = [], [], []
        self.done = 0
        self.avg, self.best = 0.0, math.inf
        self.stopped = f"reached {end:g}"
        self._seen = (0.0, 0)

    def on_train_begin(self):
        """The steps (default: one epoch's, within MIN_STEPS..MAX_STEPS), and the epochs they take."""
        per_epoch = self.trainer.steps_per_epoch
        self.steps = self.steps or min(MAX_STEPS, max(MIN_STEPS, per_epoch))
        self.trainer.epochs = math.ceil(self.steps / per_epoch)
        self.rates = self.start * (self.end / self.start) ** (np.arange(self.steps) / max(self.steps - 1, 1))
        self.trainer.model.optimizer.set_learning_rate(float(self.rates[0]))

    def on_epoch_begin(self, epoch):
        self._seen = (0.0, 0)  # each epoch has a new tracker

    def on_train_batch_end(self, step):
        t = self.trainer.tracker
        loss = (t.loss - self._seen[0]) / max(t.count - self._seen[1], 1)  # this batch's mean loss
        self._seen = (t.loss, t.count)
        lr = float(self.rates[self.done])
        self.done += 1
        self.lrs.append(lr)
        self.losses.append(float(loss))
        if not math.isfinite(loss):
            return self._stop(f"the loss became {loss} at {lr:.3g}")
        self.avg = BETA * self.avg + (1 - BETA) * loss
        smooth = self.avg / (1 - BETA ** self.done)
        self.smoothed.append(float(smooth))
        self.best = min(self.best, smooth)
        if self.done > 1 and smooth > DIVERGED * self.best:
            return self._stop(f"diverged at {lr:.3g} (smoothed loss above {DIVERGED:g}x its best)")
        if self.done >= len(self.rates):
            return self._stop(self.stopped)
        self.trainer.model.optimizer.set_learning_rate(float(self.rates[self.done]))

    def _stop(self, why: str) -> None:
        self.stopped = why
        self.trainer.stop_training = True
        self.trainer.nan_detected = False  # divergence is what the sweep looks for, not a failure
        self.trainer.stop_reason = None


def suggest(lrs, smoothed) -> dict:
    """The three suggestions (module docstring) on a smoothed curve; {} when it is too short to say."""
    n = len(smoothed)
    skip = n // 10
    lr, loss = np.asarray(lrs[skip:n], np.float64), np.asarray(smoothed[skip:], np.float64)
    if len(loss) < 3:
        return {}
    lowest = int(np.argmin(loss))
    return {"valley": float(lr[_valley(loss)]), "steep": float(lr[_steepest(lr, loss, lowest)]),
            "minimum/10": float(lr[lowest] / 10)}


def _steepest(lr: np.ndarray, loss: np.ndarray, lowest: int) -> int:
    """Where the loss falls fastest per unit of log learning rate on the way down to its minimum; each slope spans
    a tenth of the curve, as the batch-to-batch noise of one step would otherwise decide."""
    w = max(1, len(loss) // 10)
    stop = max(lowest, w + 1)
    slopes = (loss[w:stop] - loss[:stop - w]) / (np.log(lr[w:stop]) - np.log(lr[:stop - w]))
    return int(np.argmin(slopes)) + w // 2 if slopes.size else lowest


def _valley(loss: np.ndarray) -> int:
    """The index a little past the first third of the longest decreasing subsequence of `loss`."""
    n = len(loss)
    length = np.ones(n, np.int64)  # longest decreasing subsequence ending at i
    for i in range(1, n):
        earlier = length[:i][loss[:i] > loss[i]]
        if earlier.size:
            length[i] = earlier.max() + 1
    end = int(np.argmax(length))
    start = end - int(length[end]) + 1
    third = (end - start) / 3
    return min(n - 1, start + int(third) + int(third / 2))


def lr_find(config_path, overrides=(), start: float = 1e-6, end: float = 10.0, steps: int | None = None,
            method: str = "valley", plot: Path | None = None, download_progress=None) -> LRFindResult:
    """Run the range test on a config (see the module docstring); writes only the PNG `plot` (plot extra).

    Raises:
        ConfigError: a bad range or method, and every config and data error, before anything trains.
    """
    from nntrain.commands.session import train_run
    from nntrain.config import load_config

    if method not in METHODS:
        raise ConfigError(f"--suggest expects one of {', '.join(METHODS)}, got {method!r}")
    if not (0 < start < end and math.isfinite(end)):
        raise ConfigError(f"--start and --end need 0 < start < end, got {start:g} and {end:g}")
    if steps is not None and (isinstance(steps, bool) or steps < 5):
        raise ConfigError(f"--steps expects at least 5 steps, got {steps!r}")
    cfg = load_config(config_path, [*overrides, "callbacks=[]"])
    sweep = _Sweep(start, end, steps)
    scratch = Path(tempfile.mkdtemp(prefix="nntrain-lr-find-"))
    try:
        result = train_run(cfg, lambda cfg: scratch, {"kind": "lr-find"}, callbacks=[sweep],
                           download_progress=download_progress)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if result.status == "interrupted":
        raise KeyboardInterrupt
    out = LRFindResult(sweep.lrs, sweep.losses, sweep.smoothed, start, end, sweep.steps, sweep.stopped,
                       suggest(sweep.lrs, sweep.smoothed), method)
    if plot is not None:
        out.plot = _plot(out, Path(plot))
    return out


def _plot(result: LRFindResult, path: Path) -> str | None:
    """Smoothed loss against the learning rate (log axis), each suggestion marked; None without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nntrain import runs

    fig, ax = plt.subplots(figsize=(7, 4.5))
    n = len(result.smoothed)
    ax.plot(result.lrs[:n], result.smoothed, color="tab:blue", label="smoothed loss")
    for (name, lr), color in zip(result.suggestions.items(), ("tab:red", "tab:orange", "tab:green")):
        i = int(np.argmin(np.abs(np.log(result.lrs[:n]) - math.log(lr))))
        mark = "*" if name == result.method else "o"
        ax.plot(lr, result.smoothed[i], mark, color=color, markersize=11 if mark == "*" else 7,
                label=f"{name}: {lr:.2g}" + (" (suggested)" if name == result.method else ""))
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    low, high = min(result.smoothed), result.smoothed[0]
    ax.set_ylim(low - 0.1 * (high - low + 1e-12), max(result.smoothed[: max(1, n // 2)]) * 1.5 + 1e-12)
    ax.set_title(f"learning-rate range test ({result.stopped})", fontsize=10)
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    with runs.atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return str(path)
