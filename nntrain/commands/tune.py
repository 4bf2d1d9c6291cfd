"""`nntrain tune`: a hyperparameter search over a config's `search:` space, on an Optuna study. Every trial is a
real run (commands/trial.py); the study lives in SQLite inside the tune folder, or in a shared database that
workers on many machines use at once (`--storage postgresql://... --study NAME`). Layout:

    runs/NAME/                tune.json (what was asked, how it ended), study.db, leaderboard.csv,
                              best.yaml (the best trial's config: plain YAML that `nntrain fit` runs), plots/*.png
    runs/NAME/trials/NNN/     one run folder per trial (evaluate, predict, plot work on each)
    runs/NAME/refit/          with --refit: best.yaml trained on every training row, evaluated on test

Counting: `--trials N` is reached when N trials have completed or been pruned (running ones count, so parallel
workers stop together). A trial that failed, or that Ctrl-C discarded, does not count: `--resume` proposes a
discarded trial's values again first, so no trial is lost or counted twice.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from nntrain import interrupts, runs
from nntrain.commands import study as studies
from nntrain.commands.leaderboard import BEST_FILE, finish, leaderboard
from nntrain.commands.trial import Outcome, TrialSetup, run_trial
from nntrain.config.search import DEFAULT_TRIALS
from nntrain.errors import ConfigError
from nntrain.training.loop import StopRequest

TUNE_FILE = "tune.json"
MAX_FAILURES = 3  # trials failing one after another: the config, not the values, is at fault


@dataclass
class TuneResult:
    """What `tune` did: the tune folder, its report (tune.json's outcome and the leaderboard), the exit code (0, 1
    when trials kept failing, 130/143 interrupted) and a closing message."""

    tune_dir: Path
    document: dict
    exit_code: int = 0
    message: str = ""


@dataclass
class Session:
    """One search as tune.json records it: enough for --resume, --show and worker processes."""

    setup: TrialSetup
    name: str
    study: str
    storage: str | None  # None: study.db in the tune folder
    target: int
    sampler_seed: int
    epochs: int
    timeout: float | None = None
    jobs: int = 1
    refit: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return studies.storage_url(Path(self.setup.tune_dir), self.storage)

    def open(self, offset: int = 0):
        """The study, its sampler seeded `offset` past the search's seed. Workers of a shared database are seeded
        apart at random: started at the same moment with one seed, they would propose the same values."""
        if self.storage is not None:
            offset += random.SystemRandom().randrange(1, 2**30)
        return studies.open_study(self.url, self.study, self.setup.direction, self.setup.search,
                                  self.sampler_seed + offset, self.epochs)


def tune(config_path=None, *, space_file=None, trials: int | None = None, timeout: float | None = None,
         seed: int | None = None, jobs: int = 1, cv: int | None = None, refit: bool = False, overrides=(),
         name: str | None = None, runs_dir: Path = Path("runs"), storage: str | None = None,
         study: str | None = None, resume: Path | None = None, plots: bool = True, on_trial=None, on_start=None,
         command: list | None = None) -> TuneResult:
    """Run (or with `resume`, continue) a search; see the module docstring.

    Args:
        on_trial: called with one event dict per finished trial (number, state, value, params, best, ...).
        on_start: called with (tune_dir, session) once the tune folder and the study exist.

    Raises:
        ConfigError before anything is written: the config, the search space, Optuna missing, a bad count.
    """
    studies.optuna()
    _check_counts(trials, timeout, jobs, cv)
    command = command if command is not None else sys.argv
    if resume is not None:
        session = _resumed(Path(resume), trials, timeout, jobs, refit, storage, command)
    else:
        session = _new(config_path, space_file, trials, timeout, seed, jobs, cv, refit, list(overrides), name,
                       Path(runs_dir), storage, study, command)
    tune_dir = Path(session.setup.tune_dir)
    try:
        session.extra["offset"] = len(_prior(session))
        found = session.open(session.extra["offset"])
    except BaseException:
        if resume is None:
            shutil.rmtree(tune_dir, ignore_errors=True)
        raise
    _write(session, status="running")
    if resume is not None:
        session.extra["abandoned"] = studies.fail_abandoned(found)
        session.extra["requeued"] = studies.requeue_interrupted(found)
    if on_start is not None:
        on_start(tune_dir, session)
    try:
        code, message = _search(session, found, on_trial or (lambda event: None))
    except KeyboardInterrupt as exc:  # a second Ctrl-C while a trial was stopping: it is recorded all the same
        code, message = interrupts.exit_code(exc), "interrupted: the running trial is discarded; --resume runs it again"
    except BaseException as exc:  # an objective the config does not log, a closed output: tune.json says so
        _write(session, status="failed", finished=runs.timestamp(), message=str(exc))
        raise
    return _finish(session, found, code, message, plots, on_trial)


def _check_counts(trials, timeout, jobs, cv) -> None:
    for option, value, least in (("--trials", trials, 1), ("--jobs", jobs, 1), ("--cv", cv, 2)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise ConfigError(f"{option} expects a whole number of at least {least}, got {value!r}")
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0 and math.isfinite(timeout)):
        raise ConfigError(f"--timeout expects a positive number of seconds, got {timeout!r}")


def _new(config_path, space_file, trials, timeout, seed, jobs, cv, refit, overrides, name, runs_dir, storage,
         study, command) -> Session:
    """A new search: config and space checked, then the tune folder made."""
    from nntrain.config import load_config
    from nntrain.config.search import load_space
    from nntrain.engine import monitor

    if config_path is None:
        raise ConfigError("give a config file with a `search:` section, or --resume TUNE_DIR / --show TUNE_DIR")
    cfg = load_config(config_path, overrides)
    if name is not None:
        cfg.resolved["name"] = runs.check_run_name(name, "--name")
    space = load_space(Path(config_path), overrides, Path(space_file) if space_file else None)
    grid = math.prod(len(p.grid()) for p in space.params) if space.sampler["name"] == "grid" else None
    target = min(trials or space.trials or grid or DEFAULT_TRIALS, grid or math.inf)  # a grid is tried once
    runs.remove_stale_temporaries(runs_dir)
    tune_dir = runs.new_run_dir(runs_dir, cfg["name"])
    setup = TrialSetup(str(config_path), [*overrides, f"seed={cfg['seed']}"],
                       str(cfg.base_dir) if cfg.base is not None else None, str(tune_dir), space.as_dict(),
                       monitor.direction(space.objective), cv, list(command))
    return Session(setup, cfg["name"], study or cfg["name"], storage, target,
                   cfg["seed"] if seed is None else seed, cfg["training"]["epochs"], timeout, jobs, refit,
                   {"grid_size": grid})


def _resumed(tune_dir: Path, trials, timeout, jobs, refit, storage, command) -> Session:
    """The search recorded in tune_dir/tune.json, with what this call changes (more trials, another timeout)."""
    if not (tune_dir / TUNE_FILE).is_file():
        raise ConfigError(f"--resume {tune_dir}: no {TUNE_FILE} there; give the folder `nntrain tune` made")
    info = runs.read_json(tune_dir / TUNE_FILE)
    session = session_from(info, tune_dir, storage)
    session.setup.command = list(command)
    session.target = trials or session.target
    session.timeout, session.jobs, session.refit = timeout, jobs, refit
    return session


def session_from(info: dict, tune_dir: Path, storage: str | None) -> Session:
    """A Session from tune.json; a shared database whose password tune.json hides needs --storage again."""
    stored = info.get("storage")
    if stored and storage is None and "***" in stored:
        raise ConfigError(f"{tune_dir}: the study is in {stored}; give --storage with its password again")
    setup = TrialSetup(info["config"], info["overrides"], info.get("base_dir"), str(tune_dir), info["space"],
                       info["direction"], info.get("cv"), info.get("command", []))
    return Session(setup, info["name"], info["study"], storage or stored, info["trials"], info["sampler_seed"],
                   info["epochs"], info.get("timeout"), info.get("jobs", 1), info.get("refit", False),
                   {"grid_size": info.get("grid_size")})


def _prior(session: Session) -> list:
    """The trials already in the study (none for a new SQLite study): a resumed search seeds its sampler past
    them, so a seeded random search does not propose its first values again."""
    if session.storage is None and not (Path(session.setup.tune_dir) / studies.STUDY_FILE).exists():
        return []
    try:
        return studies.optuna().load_study(study_name=session.study, storage=studies.storage(session.url)).trials
    except KeyError:  # no such study yet
        return []


def _write(session: Session, **extra) -> None:
    s = session.setup
    info = {"kind": "tune", "name": session.name, "config": str(Path(s.config_path).resolve()),
            "base_dir": s.base_dir, "overrides": s.overrides, "space": s.space,
            "objective": s.search.objective, "direction": s.direction, "cv": s.cv, "trials": session.target,
            "timeout": session.timeout, "jobs": session.jobs, "refit": session.refit,
            "sampler_seed": session.sampler_seed, "epochs": session.epochs, "study": session.study,
            "storage": studies.shown_url(session.storage) if session.storage else None,
            "grid_size": session.extra.get("grid_size"), "command": s.command, "pid": os.getpid(),
            "host": studies.HOST, "updated": runs.timestamp(), **extra}
    runs.write_json(Path(s.tune_dir) / TUNE_FILE, info)


def _search(session: Session, study, on_trial) -> tuple[int, str]:
    """The trials, here (--jobs 1) or in worker processes. Returns (exit code, message)."""
    if session.jobs > 1:
        from nntrain.commands.tune_workers import run_workers

        return run_workers(session, on_trial)
    stop = StopRequest()
    deadline = time.monotonic() + session.timeout if session.timeout else None
    with stop.on_signals():
        return work(session, study, stop, on_trial, deadline)


def work(session: Session, study, stop, emit, deadline: float | None, parent: int | None = None) -> tuple[int, str]:
    """Ask, train, tell, until the target is reached, the deadline passes, a signal stops it, or trials keep
    failing. Returns (exit code, message). Shared by this process and every worker process."""
    failures: list[Outcome] = []
    while not stop.requested and (deadline is None or time.monotonic() < deadline):
        if parent is not None and os.getppid() != parent:
            break  # the parent process is gone: nobody reads the results
        if studies.counted(study) >= session.target:
            break
        trial = study.ask()
        if studies.surplus(study, trial, session.target):
            studies.mark_result(trial, surplus=True)  # another worker asked at the same moment: the last slot is its
            study.tell(trial, state=studies.optuna().trial.TrialState.FAIL)
            break
        try:
            outcome = run_trial(session.setup, trial, stop)
        except BaseException as exc:  # a second Ctrl-C, or an objective the config does not log
            studies.mark_result(trial, interrupted=isinstance(exc, KeyboardInterrupt), message=str(exc))
            study.tell(trial, state=studies.optuna().trial.TrialState.FAIL, skip_if_finished=True)
            raise
        _tell(study, trial, outcome)
        emit(trial_event(study, outcome, session.target))
        if outcome.state == "interrupted":
            return outcome.exit_code, "interrupted: the running trial is discarded; --resume runs it again"
        failures = failures + [outcome] if outcome.state == "failed" else []
        if len(failures) >= MAX_FAILURES:
            return 1, f"{MAX_FAILURES} trials in a row failed; the last: {failures[-1].message}"
    if stop.requested:
        return interrupts.exit_code(stop.interrupt()), "interrupted between trials"
    return 0, ""


def _tell(study, trial, outcome: Outcome) -> None:
    states = studies.optuna().trial.TrialState
    studies.mark_result(trial, epochs=outcome.epochs, best_epoch=outcome.best_epoch, seconds=outcome.seconds,
                        message=outcome.message, interrupted=outcome.state == "interrupted")
    if outcome.state == "complete":
        study.tell(trial, outcome.value)
    else:
        study.tell(trial, state=states.PRUNED if outcome.state == "pruned" else states.FAIL)


def trial_event(study, outcome: Outcome, target: int) -> dict:
    """What the display shows of a finished trial: its outcome, the best so far and the progress."""
    best = None
    try:
        b = study.best_trial
        best = {"number": b.number, "value": b.value}
    except ValueError:  # no trial has completed yet
        pass
    done = len(studies.state_names(study, ("COMPLETE", "PRUNED")))
    return {"type": "trial", "number": outcome.number, "state": outcome.state, "value": outcome.value,
            "params": outcome.params, "epochs": outcome.epochs, "seconds": outcome.seconds,
            "run_dir": outcome.run_dir, "message": outcome.message, "best": best, "done": done, "target": target}


def _finish(session: Session, study, code: int, message: str, plots: bool, on_trial) -> TuneResult:
    """Leaderboard, best.yaml, plots and the refit; tune.json with how the search ended."""
    try:
        document = finish(session, study, plots, refit=session.refit and code == 0,
                          on_event=on_trial or (lambda event: None))
    except BaseException:
        _write(session, status="interrupted" if code else "failed", finished=runs.timestamp())
        raise
    status = "interrupted" if code in (130, 143) else "failed" if code else "finished"
    refit = document.get("refit") or {}
    if refit.get("status") not in (None, "finished") and not code:
        code, message = (1, f"the refit failed: {refit.get('message')}") if refit["status"] == "failed" else (
            interrupts.exit_code(), "interrupted while refitting")
        status = "failed" if code == 1 else "interrupted"
    _write(session, status=status, finished=runs.timestamp(), message=message or None,
           best=document.get("best"), counts=document.get("counts"))
    return TuneResult(Path(session.setup.tune_dir), {**document, "status": status}, code, message)


def show(tune_dir: Path, storage: str | None = None) -> TuneResult:
    """The leaderboard of a search, read from its study (`nntrain tune --show TUNE_DIR`); trains nothing."""
    studies.optuna()
    tune_dir = Path(tune_dir)
    if not (tune_dir / TUNE_FILE).is_file():
        raise ConfigError(f"--show {tune_dir}: no {TUNE_FILE} there; give the folder `nntrain tune` made")
    info = runs.read_json(tune_dir / TUNE_FILE)
    session = session_from(info, tune_dir, storage)
    study = studies.optuna().load_study(study_name=session.study, storage=studies.storage(session.url))
    document = leaderboard(session, study)
    best_yaml = tune_dir / BEST_FILE
    if document["best"] and best_yaml.is_file() and best_yaml.read_text().startswith(
            f"# the best trial ({document['best']['trial']}) "):  # not one a later trial has beaten
        document["best_config"] = str(best_yaml)
    return TuneResult(tune_dir, {**document, "status": info.get("status")})


def plot_study(tune_dir: Path, storage: str | None = None) -> list[Path]:
    """`nntrain plot TUNE_DIR`: Optuna's charts of the search into TUNE_DIR/plots."""
    tune_dir = Path(tune_dir)
    session = session_from(runs.read_json(tune_dir / TUNE_FILE), tune_dir, storage)
    study = studies.optuna().load_study(study_name=session.study, storage=studies.storage(session.url))
    return studies.plots(study, tune_dir / "plots")
