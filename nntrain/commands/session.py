"""One training run into one run folder. fit, every kfold fold and the kfold refit call `train_run` with what
differs between them; nothing else writes the prepare -> load -> build -> write -> run -> record sequence.

    model = prepare(cfg)                # config and shape errors, before any data
    bundle = load_bundle(cfg)           # data errors, located at their config line
    run_dir = folder(cfg)               # from here on the run folder exists
    write_run_files(...)                # config.yaml, summary.txt, splits.npz, run.json (status "running")
    trainer.run()                       # callbacks record history, metrics and checkpoints every epoch
    run.json <- finished | interrupted | failed
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nntrain import runs
from nntrain.commands.prepare import Rows, check_bundle, class_weight, load_bundle, load_weights_by_name, prepare
from nntrain.commands.recorder import CheckpointSaver, RunRecorder, best_monitor, restored_epoch, summarize_history
from nntrain.config import RunConfig
from nntrain.engine import monitor as monitor_rule
from nntrain.errors import CheckpointError, NNTrainError


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
    np.savez(run_dir / "splits.npz", **{k: np.asarray(v) for k, v in bundle.indices.items() if v is not None})
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


def make_trainer(model, cfg: RunConfig, bundle, callbacks, stop_request=None):
    from nntrain.training.loop import Trainer

    t = cfg["training"]
    val = (bundle.val.x, bundle.val.y) if bundle.val is not None else None
    return Trainer(model, bundle.train.x, bundle.train.y, epochs=t["epochs"], batch_size=t["batch_size"],
                   validation_data=val, shuffle=t["shuffle"], class_weight=class_weight(cfg, model, bundle),
                   callbacks=callbacks, seed=cfg["seed"], stop_request=stop_request)


def restore(model, checkpoint) -> None:
    """A resumed run's weights and optimizer state, checked before anything is written."""
    try:  # a config changed with --set must still fit the checkpoint
        model.set_weights(checkpoint.weights)
        model.optimizer.set_state(checkpoint.optimizer_state)
    except NNTrainError as exc:
        raise CheckpointError(f"{checkpoint.path} does not fit the config given with --resume: {exc}") from None


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
    model = prepare(cfg)
    if resume is not None:
        restore(model, resume)
    if weights is not None:
        info["initial_weights"] = {"checkpoint": str(Path(weights).resolve()),
                                   "layers": load_weights_by_name(model, Path(weights))}
    bundle = load_bundle(cfg, download_progress, rows)
    check_bundle(model, bundle, cfg)

    run_dir = folder(cfg)  # everything is valid: from here on the run folder exists
    resolved = write_run_files(run_dir, cfg, model, bundle, info)
    if on_start is not None:
        on_start(run_dir, cfg, model)
    own, recorder = run_callbacks(cfg, run_dir, bundle, drop_val_callbacks=rows is not None and rows.val is None)
    trainer = make_trainer(model, cfg, bundle, own + list(callbacks), stop)
    trainer.extras = {"config": resolved, "preprocessing": bundle.preprocessor.get_state()}
    if resume is not None:
        from nntrain.runs.checkpoint import restore_trainer

        restore_trainer(trainer, resume)
    result = _run(trainer, run_dir, own_signals=stop is None, resumable=rows is None)
    recorder.trainer = trainer
    result.metrics = recorder.write(restored_epoch(trainer))
    info.update(finished=runs.timestamp(), status=result.status, epochs=result.epochs,
                stop_reason=trainer.stop_reason or (result.message if result.status != "finished" else None))
    runs.write_json(run_dir / "run.json", info)
    result.seconds = time.perf_counter() - start
    return result


def _run(trainer, run_dir: Path, own_signals: bool, resumable: bool) -> RunResult:
    """trainer.run(), with how it ended as a RunResult; a NaN loss is reported as a failure, not as warnings."""
    from contextlib import nullcontext

    status, code, message, error = "finished", 0, "", None
    try:
        with trainer.stop_request.on_signals() if own_signals else nullcontext():
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                trainer.run()
        if trainer.nan_detected:
            status, code = "failed", 1
            message = (f"stopped: {trainer.stop_reason}. The last good checkpoint is "
                       f"{run_dir / 'checkpoints' / 'last.h5'} (epoch {len(trainer.history.epoch) - 1}).")
        elif trainer.stop_reason:
            message = trainer.stop_reason
    except KeyboardInterrupt:
        status, code = "interrupted", 130
        message = f"interrupted during epoch {trainer.epoch + 1}"
        if resumable:
            message += (f"; checkpoints/last.h5 holds epoch {trainer.epoch}. Resume with: "
                        f"nntrain fit --resume {run_dir}")
    except Exception as exc:  # a custom callback raising, or a bug: the run is marked failed, the caller decides
        status, code, message, error = "failed", 1, (str(exc) if isinstance(exc, NNTrainError)
                                                    else f"{type(exc).__name__}: {exc}"), exc
    history = trainer.history.history
    final, best = summarize_history(history)
    return RunResult(run_dir, status, code, history, final, best, message, len(trainer.history.epoch), error=error)
