"""One trial of `nntrain tune`: the trial's values set into the config as --set would, then a real run through
the one run function into runs/TUNE/trials/NNN (or a k-fold of it with --cv), reporting the objective after every
epoch so a pruner can stop it early.

How a trial ends, for the study:
    complete     its best epoch's objective (a run that diverged later keeps the value of its best epoch)
    pruned       the pruner stopped it; its last reported value stands
    failed       it could not start, or never logged a finite objective
    interrupted  Ctrl-C or SIGTERM: recorded as failed with `interrupted`, and proposed again by --resume
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from nntrain import runs
from nntrain.config.search import SearchSpace, setting
from nntrain.errors import ConfigError, NNTrainError
from nntrain.registry import did_you_mean
from nntrain.training.callbacks import Callback


@dataclass
class TrialSetup:
    """What every trial of one search shares (picklable: worker processes get it whole)."""

    config_path: str
    overrides: list  # --set, then the pinned training seed
    base_dir: str | None
    tune_dir: str
    space: dict  # SearchSpace.as_dict()
    direction: str  # "up" | "down": the objective's (engine/monitor.py)
    cv: int | None = None
    command: list = field(default_factory=list)

    @property
    def search(self) -> SearchSpace:
        return SearchSpace.from_dict(self.space)


@dataclass
class Outcome:
    """How a trial ended (see the module docstring) and what the display shows of it."""

    number: int
    state: str  # complete | pruned | failed | interrupted
    value: float | None
    params: dict
    run_dir: str
    epochs: int = 0
    best_epoch: int | None = None  # 1-based epoch of the objective's value (what a refit trains for)
    seconds: float = 0.0
    message: str = ""
    exit_code: int = 0  # 130 / 143 when a signal interrupted it


class _Report(Callback):
    """After each epoch: the objective to the trial; the pruner's verdict stops training at the epoch's end."""

    def __init__(self, trial, objective: str, pruning: bool):
        self.trial, self.objective, self.pruning = trial, objective, pruning
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch, logs):
        value = logs.get(self.objective)
        if value is None:
            keys = [k for k in logs if k != "seconds"]
            raise ConfigError(f"search.objective: {self.objective!r} is not logged by this config"
                              f"{did_you_mean(self.objective, keys)}; it logs {', '.join(keys)}", ("search",))
        if not self.pruning or not math.isfinite(value):
            return
        self.trial.report(float(value), epoch + 1)
        if self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.trainer.stop_training = True
            self.trainer.stop_reason = f"pruned after epoch {epoch + 1}: {self.objective}={value:.6g} is behind"


def trial_folder_name(number: int) -> str:
    return f"{number:03d}"


def run_trial(setup: TrialSetup, trial, stop) -> Outcome:
    """Train the trial's config into runs/TUNE/trials/NNN and return how it ended. What the trial's own values
    cause (a shape that cannot fit, a diverging loss) is a failed trial; an objective the config does not log is
    a ConfigError, raised."""
    from nntrain.commands import study as studies

    space = setup.search
    start = time.perf_counter()
    params = {p.path: studies.suggest(trial, p) for p in space.params}
    overrides = [*setup.overrides, *(setting(p, params[p.path]) for p in space.params)]
    run_dir = Path(setup.tune_dir) / "trials" / trial_folder_name(trial.number)
    studies.mark_worker(trial, run_dir)
    outcome = Outcome(trial.number, "failed", None, params, str(run_dir))
    try:
        if setup.cv:
            _cross_validated(setup, space, overrides, run_dir, outcome)
        else:
            _trained(setup, space, trial, overrides, run_dir, stop, outcome)
    except ConfigError as exc:
        if exc.path[:1] == ("search",):
            raise
        outcome.message = str(exc)
    except NNTrainError as exc:  # this combination of values cannot train (a shape, a data problem)
        outcome.message = str(exc)
    outcome.seconds = time.perf_counter() - start
    return outcome


def _trained(setup: TrialSetup, space: SearchSpace, trial, overrides: list, run_dir: Path, stop, out: Outcome) -> None:
    """A run of the trial's config; its folder is made once the config and data are known to be good."""
    from nntrain.commands import study as studies
    from nntrain.commands.session import train_run
    from nntrain.config import load_config

    cfg = load_config(setup.config_path, overrides, base_dir=setup.base_dir)
    cfg.resolved["name"] = Path(run_dir).name
    info = {**runs.run_info(setup.command), "kind": "tune-trial", "trial": trial.number,
            "tune_dir": str(Path(setup.tune_dir).resolve()), "params": out.params,
            "config": str(Path(setup.config_path).resolve()), "config_dir": str(cfg.base_dir.resolve())}
    report = _Report(trial, space.objective, space.pruner["name"] != "none")
    def folder(cfg):
        made = runs.new_run_dir(Path(run_dir).parent, Path(run_dir).name)  # -2 beside a stray folder
        if made != Path(run_dir):
            out.run_dir = str(made)
            studies.mark_worker(trial, made)
        return made

    result = train_run(cfg, folder, info, callbacks=[report], stop=stop)
    if isinstance(result.error, ConfigError) and result.error.path[:1] == ("search",):
        raise result.error
    out.epochs, out.message = result.epochs, result.message
    best = result.best.get(space.objective, {}).get("value")
    out.best_epoch = result.best.get(space.objective, {}).get("epoch")
    if result.status == "interrupted":
        out.state, out.exit_code = "interrupted", result.exit_code
    elif report.pruned_at is not None:
        out.state, out.value = "pruned", best
    elif best is not None and math.isfinite(best):
        out.state, out.value = "complete", best
    elif not out.message:
        out.message = f"no finite {space.objective} was logged"


def _cross_validated(setup: TrialSetup, space: SearchSpace, overrides: list, run_dir: Path, out: Outcome) -> None:
    """--cv K: the trial is a k-fold of its config (runs/TUNE/trials/NNN/fold-i); its value is the mean over the
    folds of each fold's best objective."""
    from nntrain.commands.kfold import kfold
    from nntrain.engine import monitor

    result = kfold(setup.config_path, setup.cv, overrides=overrides, runs_dir=Path(run_dir).parent,
                   name=Path(run_dir).name, command=setup.command)
    out.run_dir = str(result.run_dir)
    out.epochs = max((f.get("epochs") or 0 for f in result.folds), default=0)
    out.message = result.message
    metric = result.summary["metrics"].get(space.objective)
    if result.exit_code in (130, 143):
        out.state, out.exit_code = "interrupted", result.exit_code
    elif metric is None:
        keys = list(result.summary["metrics"])
        raise ConfigError(f"search.objective: {space.objective!r} is not logged by this config"
                          f"{did_you_mean(space.objective, keys)}; it logs {', '.join(keys)}", ("search",))
    elif math.isfinite(metric["best_mean"]) and result.exit_code == 0:
        out.state, out.value = "complete", metric["best_mean"]
        found = monitor.best_epoch(result.summary["curves"][space.objective]["mean"], setup.direction)
        out.best_epoch = found[1] + 1 if found else None
