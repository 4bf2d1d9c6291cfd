"""One training run into one run folder. fit, every kfold fold and the kfold refit call `train_run` with what
differs between them; nothing else writes the prepare -> load -> build -> write -> run -> record sequence.

    prepared = prepare_run(cfg)         # data loaded once, model sized from it, every data-dependent check
    run_dir = folder(cfg)               # from here on the run folder exists
    write_run_files(...)                # config.yaml, summary.txt, splits.npz, run.json (status "running")
    trainer.run()                       # callbacks record history, metrics and checkpoints every epoch
    run.json <- finished | interrupted | failed
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nntrain import interrupts, runs
from nntrain.commands.prepare import Prepared, Rows, load_weights_by_name, prepare_run
from nntrain.commands.recorder import CheckpointSaver, RunRecorder, best_monitor, restored_epoch, summarize_history
from nntrain.config import RunConfig
from nntrain.engine import monitor as monitor_rule
from nntrain.errors import CheckpointError, NNTrainError, StorageError


@dataclass
class RunResult:
    """How one run ended. `error` is an exception raised while training (a custom callback, a bug): recorded as
    status "failed" in run.json; the caller decides whether to raise it."""

    run_dir: Path
    status: str  # finished | interrupted | failed
    exit_code: int  # 0, 1 (failed), 130 (interrupted)
    history: dict
    final: dict = field(default_factory=dict)
    best: dict = field(default_factory=dict)
    message: str = ""
    epochs: int = 0
    seconds: float = 0.0
    error: BaseException | None = None
    metrics: dict = field(default_factory=dict)  # metrics.json as written at the end (its "kept" entry included)


def absolute_data_paths(resolved: dict, base_dir: Path) -> dict:
    """The resolved config with data file paths made absolute, so the run folder's copy works from anywhere."""
    data = dict(resolved["data"])
    for key in ("train", "test", "validation"):
        if isinstance(data.get(key), str) and not Path(data[key]).is_absolute():
            data[key] = str((base_dir / data[key]).resolve())
    return {**resolved, "data": data}


def write_config(run_dir: Path, cfg: RunConfig) -> dict:
    """The run folder's config.yaml: the resolved config with data paths absolute. Returns what was written."""
    from nntrain.config import dump_yaml

    resolved = absolute_data_paths(cfg.resolved, cfg.base_dir)
    runs.atomic_write_text(run_dir / "config.yaml", dump_yaml(resolved))
    return resolved


def write_run_files(run_dir: Path, cfg: RunConfig, model, bundle, info: dict) -> dict:
    """config.yaml, summary.txt, splits.npz and run.json of a run folder. Returns the resolved config written."""
    resolved = write_config(run_dir, cfg)
    runs.atomic_write_text(run_dir / "summary.txt", model.summary() + "\n")
    runs.write_npz(run_dir / "splits.npz", {k: np.asarray(v) for k, v in bundle.indices.items() if v is not None})
    runs.write_json(run_dir / "run.json", info)
    return resolved


def run_callbacks(cfg: RunConfig, run_dir: Path, bundle, drop_val_callbacks: bool = False) -> tuple[list, RunRecorder]:
    """The callbacks of a run: terminate_on_nan (on by default), the config's own, then the history recorder and
    the checkpoint saver. drop_val_callbacks: leave out those monitoring val_ values (no validation set)."""
    from nntrain.config.build import build_callbacks
    from nntrain.training.callbacks import TerminateOnNaN

    monitor, mode = best_monitor(cfg)
    monitor = monitor if bundle.val is not None else None
    user = build_callbacks(cfg, run_dir)
    if drop_val_callbacks:
        user = [cb for cb in user if not str(getattr(cb, "monitor", "")).startswith("val_")]
    direction = monitor_rule.resolve(monitor, mode) if monitor else "down"
    recorder = RunRecorder(run_dir, monitor, direction)
    saver = CheckpointSaver(run_dir / "checkpoints", monitor, direction)
    extra = [] if any(isinstance(c, TerminateOnNaN) for c in user) else [TerminateOnNaN()]
    return extra + user + [recorder, saver], recorder


def make_trainer(prepared: Prepared, cfg: RunConfig, callbacks, stop_request=None):
    from nntrain.training.loop import Trainer

    t, bundle = cfg["training"], prepared.bundle
    val = None
    if bundle.val is not None:  # validation rows are weighted too when they carry weights (Keras's validation_split)
        val = (bundle.val.x, bundle.val.y) + ((bundle.val.weights,) if bundle.val.weights is not None else ())
    return Trainer(prepared.model, bundle.train.x, bundle.train.y, epochs=t["epochs"], batch_size=t["batch_size"],
                   validation_data=val, shuffle=t["shuffle"], class_weight=prepared.class_weight,
                   sample_weight=prepared.sample_weight, callbacks=callbacks, seed=cfg["seed"],
                   stop_request=stop_request)


def restore(model, checkpoint) -> None:
    """A resumed run's weights and optimizer state, checked before anything is written."""
    try:  # a config changed with --set must still fit the checkpoint
        model.set_weights(checkpoint.weights)
        model.optimizer.set_state(checkpoint.optimizer_state)
    except NNTrainError as exc:
        raise CheckpointError(f"{checkpoint.path} does not fit the config given with --resume: {exc}") from None
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:  # values no save writes
        raise CheckpointError(f"{checkpoint.path}: damaged checkpoint: its optimizer state cannot be restored "
                              f"({type(exc).__name__}: {exc})") from None


def train_run(cfg: RunConfig, folder: Callable[[RunConfig], Path], info: dict, *, rows: Rows | None = None,
              resume=None, weights: Path | None = None, callbacks: Sequence = (), stop=None, on_start=None,
              download_progress=None) -> RunResult:
    """Train one model as `cfg` says and record it in the folder `folder(cfg)` returns.

    Args:
        info: run.json's content so far (run_info plus what the workflow adds); completed here.
        rows: train and validate on these rows of already-read data (kfold); the config's validation split and
            the val_ callbacks then apply only when `rows.val` is given.
        resume: a loaded checkpoint to continue from exactly; weights: a checkpoint to copy layers from by name.
        callbacks: extra callbacks after the run's own (progress displays, event emitters).
        stop: a StopRequest whose signals the caller routes; None: Ctrl-C and SIGTERM are routed here.
        on_start: called with (run_dir, cfg, model) once the run folder exists.

    Raises:
        NNTrainError (config, data, shapes, checkpoints) before the run folder is created.
    """
    start = time.perf_counter()
    prepared = prepare_run(cfg, download_progress, rows, val_callbacks=not (rows is not None and rows.val is None))
    model, bundle = prepared.model, prepared.bundle
    if resume is not None:
        restore(model, resume)
    if weights is not None:
        info["initial_weights"] = {"checkpoint": str(Path(weights).resolve()),
                                   "layers": load_weights_by_name(model, Path(weights))}

    run_dir = folder(cfg)  # everything is valid: from here on the run folder exists
    with _setting_up(run_dir, remove=resume is None and rows is None):  # only `nntrain fit` makes its folder
        own, recorder = run_callbacks(cfg, run_dir, bundle, drop_val_callbacks=rows is not None and rows.val is None)
        trainer = make_trainer(prepared, cfg, own + list(callbacks), stop)
        if resume is not None:  # a damaged training state is refused before the folder is touched
            from nntrain.runs.checkpoint import restore_trainer

            restore_trainer(trainer, resume)
        resolved = write_run_files(run_dir, cfg, model, bundle, info)
        trainer.extras = {"config": resolved, "preprocessing": bundle.preprocessor.get_state()}
        if on_start is not None:
            on_start(run_dir, cfg, model)
    # signals stay routed to the run until run.json says how it ended
    with trainer.stop_request.on_signals() if stop is None else nullcontext():
        result = _run(trainer, run_dir, resumable=rows is None)
        _record(result, trainer, recorder, info)
    result.seconds = time.perf_counter() - start
    return result


@contextmanager
def _setting_up(run_dir: Path, remove: bool):
    """The run folder until training starts. Any failure or signal here leaves no half-made run: a new run's folder
    (no checkpoint yet) is removed (`remove`), so its name is free again; another (a resumed run, a k-fold fold) is
    marked with why training did not start, if its run.json was already rewritten for this process."""
    try:
        yield
    except BaseException as exc:
        if remove:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            runs.mark_unfinished(run_dir, os.getpid(), "interrupted" if isinstance(exc, KeyboardInterrupt)
                                 else "failed", f"training did not start: {_reason(exc)}")
        raise


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "stopped by SIGTERM" if isinstance(exc, interrupts.Terminated) else "interrupted"
    return str(exc) if isinstance(exc, NNTrainError) else f"{type(exc).__name__}: {exc}"


def _record(result: RunResult, trainer, recorder: RunRecorder, info: dict) -> None:
    """history.csv, metrics.json, then run.json with how the run ended. A write failing here (a full disk) makes a
    finished run a failed one; run.json, written last, is rewritten in place when no new file fits on the disk."""
    run_dir = result.run_dir
    try:
        recorder.trainer = trainer
        result.metrics = recorder.write(restored_epoch(trainer))
    except StorageError as exc:
        if result.error is None:
            result.status, result.exit_code, result.message, result.error = "failed", 1, str(exc), exc
    info.update(finished=runs.timestamp(), status=result.status, epochs=result.epochs,
                stop_reason=trainer.stop_reason or (result.message if result.status != "finished" else None))
    try:
        runs.write_json(run_dir / "run.json", info)
    except StorageError:
        with suppress(StorageError):
            runs.write_json(run_dir / "run.json", info, atomic=False)


def _run(trainer, run_dir: Path, resumable: bool) -> RunResult:
    """trainer.run(), with how it ended as a RunResult; a NaN loss is reported as a failure, not as warnings."""
    status, code, message, error = "finished", 0, "", None
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            trainer.run()
        if trainer.nan_detected:
            status, code = "failed", 1
            message = (f"stopped: {trainer.stop_reason}. The last good checkpoint is "
                       f"{run_dir / 'checkpoints' / 'last.h5'} (epoch {len(trainer.history.epoch) - 1}).")
        elif trainer.stop_reason:
            message = trainer.stop_reason
    except KeyboardInterrupt as exc:
        status, code = "interrupted", interrupts.exit_code(exc)
        message = f"{_reason(exc)} during epoch {trainer.epoch + 1}"
        if resumable:
            message += (f"; checkpoints/last.h5 holds epoch {trainer.epoch}. Resume with: "
                        f"nntrain fit --resume {run_dir}")
    except StorageError as exc:  # a full disk: the checkpoints already written stay, the run is marked failed
        status, code, error = "failed", 1, _storage_failure(exc, run_dir, resumable)
        message = str(error)
    except Exception as exc:  # a custom callback raising, or a bug: the run is marked failed, the caller decides
        status, code, message, error = "failed", 1, (str(exc) if isinstance(exc, NNTrainError)
                                                    else f"{type(exc).__name__}: {exc}"), exc
    history = trainer.history.history
    final, best = summarize_history(history)
    return RunResult(run_dir, status, code, history, final, best, message, len(trainer.history.epoch), error=error)


def _storage_failure(exc: StorageError, run_dir: Path, resumable: bool) -> StorageError:
    """The error of a write that failed while training, saying what was kept and how to go on."""
    if (run_dir / "checkpoints" / "last.h5").exists():
        then = f"; once that is fixed, resume with: nntrain fit --resume {run_dir}" if resumable else ""
        more = f"the run is marked failed and keeps its earlier checkpoints{then}"
    else:
        more = "the run is marked failed; it had written no checkpoint yet"
    error = StorageError(f"{exc} ({more})", exc.path)
    error.errno = exc.errno
    return error
