"""`nntrain fit` as a plain function: config -> validated model -> data -> a run folder with checkpoints,
history and metrics. The CLI only parses arguments and prints what this returns or raises."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nntrain import runs
from nntrain.config import RunConfig, load_config
from nntrain.engine import monitor as monitor_rule
from nntrain.errors import CheckpointError, ConfigError, NNTrainError
from nntrain.training.callbacks import Callback


@dataclass
class FitResult:
    run_dir: Path
    status: str  # finished | interrupted | failed
    exit_code: int
    history: dict
    final: dict = field(default_factory=dict)
    best: dict = field(default_factory=dict)
    message: str = ""


def summarize_history(history: dict) -> tuple[dict, dict]:
    """(final values, best value and epoch per key) from a history dict of lists; "best" follows the one
    monitor rule (engine/monitor.py), so it names the same epoch best.h5 and early stopping would."""
    final = {k: v[-1] for k, v in history.items() if v}
    best = {}
    for k, vals in history.items():
        if k in ("seconds", "learning_rate"):
            continue
        found = monitor_rule.best_epoch(vals, monitor_rule.direction(k))
        if found is not None:
            best[k] = {"value": found[0], "epoch": found[1] + 1}
    return final, best


class RunRecorder(Callback):
    """Keeps history.csv and metrics.json current after every epoch (a crash loses at most one epoch)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def on_epoch_end(self, epoch, logs):
        self.write()

    def write(self):
        h = self.trainer.history
        runs.write_history_csv(self.run_dir / "history.csv", h)
        final, best = summarize_history(h.history)
        runs.write_json(self.run_dir / "metrics.json", {"epochs": len(h.epoch), "final": final, "best": best})


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

        for name, snap in list(self.pending.items()):
            write(self.folder / name, snap)
            del self.pending[name]
        self.last_write = time.monotonic()

    def on_train_end(self):
        self.flush()

    def on_interrupt(self):
        self.flush()

    def get_state(self):
        return {"best": self.best}

    def set_state(self, state):
        self.best = state.get("best")


# --- pieces shared by fit, kfold and evaluate --------------------------------------------------------------
def locate(cfg: RunConfig, exc: NNTrainError, default: tuple) -> NNTrainError:
    """The same error, located in the config: at the key path it carries, at the data file it names, or at
    `default`."""
    path = tuple(getattr(exc, "path", ()) or ())
    if not path:
        path = default
        data = cfg["data"] or {}
        for key in ("train", "test", "validation"):
            if isinstance(data.get(key), str) and Path(data[key]).name in str(exc):
                path = ("data", key)
    return cfg.locate(exc, path)


def data_inputs(cfg: RunConfig) -> dict | None:
    """What the data says about each model input, without loading it (for shape checks)."""
    from nntrain.data import describe

    try:
        desc = describe(cfg["data"], cfg.base_dir)
    except NNTrainError as exc:
        raise locate(cfg, exc, ("data",)) from None
    inputs = desc.get("inputs") or {}
    return {name: v if isinstance(v, dict) else {"shape": list(v)} for name, v in inputs.items()}


def prepare(cfg: RunConfig):
    """Build and compile the model of a config: every config and shape error surfaces here, before data."""
    from nntrain.config.build import build_model, compile_model

    model = build_model(cfg, data_inputs(cfg))
    compile_model(model, cfg)
    return model


def load_bundle(cfg: RunConfig, progress=None, train_idx=None, val_idx=None, raw=None):
    from nntrain.data import load_raw, make_bundle

    t = cfg["training"]
    seed = t["validation_seed"] if t["validation_seed"] is not None else cfg["seed"]
    try:
        raw = raw if raw is not None else load_raw(cfg["data"], cfg.base_dir, progress=progress)
        return make_bundle(raw, cfg["data"], train_idx=train_idx, val_idx=val_idx,
                           validation_split=t["validation_split"], shuffle=t["validation_shuffle"],
                           stratify=t["stratify"], seed=seed)
    except NNTrainError as exc:
        raise locate(cfg, exc, ("data",)) from None


def check_bundle(model, bundle, cfg: RunConfig | None = None) -> None:
    """Data against the model before training: input shapes, NaN, labels against each loss."""
    for split in ("train", "val", "test"):
        part = getattr(bundle, split)
        if part is None:
            continue
        what = {"train": "the training data", "val": "the validation data", "test": "the test data"}[split]
        try:
            model.check_data(model.as_input_list(part.x), model.as_output_list(part.y), what)
        except NNTrainError as exc:
            if cfg is None:
                raise
            raise locate(cfg, exc, ("loss",) if "label" in str(exc) else ("model",)) from None


def balanced_class_weight(y: np.ndarray) -> dict:
    """Keras/sklearn 'balanced': n_samples / (n_classes * count(class))."""
    y = np.asarray(y)
    labels = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else np.rint(y.reshape(-1)).astype(int)
    classes, counts = np.unique(labels, return_counts=True)
    return {int(c): float(len(labels) / (len(classes) * n)) for c, n in zip(classes, counts)}


def make_trainer(model, cfg: RunConfig, bundle, callbacks, stop_request=None):
    from nntrain.training.loop import Trainer

    t = cfg["training"]
    class_weight = t["class_weight"]
    if class_weight == "balanced":
        class_weight = balanced_class_weight(model.as_output_list(bundle.train.y)[0])
    elif class_weight:
        class_weight = {int(k): float(v) for k, v in class_weight.items()}
    val = (bundle.val.x, bundle.val.y) if bundle.val is not None else None
    return Trainer(model, bundle.train.x, bundle.train.y, epochs=t["epochs"], batch_size=t["batch_size"],
                   validation_data=val, shuffle=t["shuffle"], class_weight=class_weight, callbacks=callbacks,
                   seed=cfg["seed"], stop_request=stop_request)


def absolute_data_paths(resolved: dict, base_dir: Path) -> dict:
    """The resolved config with data file paths made absolute, so the run folder's copy works from anywhere."""
    data = dict(resolved["data"])
    for key in ("train", "test", "validation"):
        if isinstance(data.get(key), str) and not Path(data[key]).is_absolute():
            data[key] = str((base_dir / data[key]).resolve())
    return {**resolved, "data": data}


def load_weights_by_name(model, path: Path) -> list[str]:
    """Copy weights from another run's checkpoint into layers of the same name and shape (transfer learning).
    Returns the names of the layers loaded."""
    from nntrain.runs.checkpoint import load

    ckpt = load(path)
    loaded = []
    for layer in model.layers:
        src = ckpt.weights.get(layer.name)
        if not src:
            continue
        own = {**layer.params, **layer.state}
        for key, value in src.items():
            if key in own and own[key].shape != value.shape:
                raise CheckpointError(f"{path}: layer `{layer.name}` weight `{key}` has shape {value.shape}, "
                                      f"this model's has {own[key].shape}")
        layer.set_weights({k: v for k, v in src.items() if k in own})
        loaded.append(layer.name)
    if not loaded:
        raise CheckpointError(f"{path}: no layer name matches this model's layers "
                              f"({', '.join(l.name for l in model.layers)}); checkpoint has {', '.join(ckpt.weights)}")
    return loaded


def write_config(run_dir: Path, cfg: RunConfig) -> dict:
    """The run folder's config.yaml: the resolved config with data paths absolute. Returns what was written."""
    resolved = absolute_data_paths(cfg.resolved, cfg.base_dir)
    runs.atomic_write_text(run_dir / "config.yaml", _yaml(resolved))
    return resolved


def write_run_files(run_dir: Path, cfg: RunConfig, model, bundle, info: dict) -> dict:
    """config.yaml (resolved, data paths absolute), summary.txt, splits.npz and run.json of a run folder.
    Returns the resolved config written."""
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

    monitor, mode = _monitor(cfg)
    monitor = monitor if bundle.val is not None else None
    user = build_callbacks(cfg, run_dir)
    if drop_val_callbacks:
        user = [cb for cb in user if not str(getattr(cb, "monitor", "")).startswith("val_")]
    recorder = RunRecorder(run_dir)
    saver = CheckpointSaver(run_dir / "checkpoints", monitor, monitor_rule.resolve(monitor, mode) if monitor else "down")
    extra = [] if any(isinstance(c, TerminateOnNaN) for c in user) else [TerminateOnNaN()]
    return extra + user + [recorder, saver], recorder


# --- fit ------------------------------------------------------------------------------------------------
def fit(config_path=None, overrides=(), runs_dir: Path = Path("runs"), name: str | None = None,
        resume: Path | None = None, weights: Path | None = None, display=None, download_progress=None,
        command: list[str] | None = None, on_start=None) -> FitResult:
    """Train from a config file (or resume a run folder) and write everything into the run folder.

    Args:
        display: a ProgressDisplay-like callback (or None for silence); it also receives warnings.
        on_start: called with (run_dir, cfg, model) once the run folder exists.
    Raises:
        NNTrainError (ConfigError, ShapeError, DataError, CheckpointError) before anything is written.
    """
    from nntrain.runs.checkpoint import load, restore_trainer
    from nntrain.training.progress import TrainingWatch

    resume_ckpt = None
    if resume is not None:
        resume = Path(resume)
        if not (resume / "config.yaml").exists():
            raise CheckpointError(f"{resume}: not a run folder (no config.yaml); give the folder `nntrain fit` "
                                  f"created, e.g. runs/NAME")
        info = runs.read_json(resume / "run.json") if (resume / "run.json").exists() else {}
        cfg = load_config(resume / "config.yaml", overrides, base_dir=Path(info.get("config_dir", resume)))
        resume_ckpt = load(resume / "checkpoints" / "last.h5")
    else:
        if config_path is None:
            raise ConfigError("give a config file, or --resume RUN_DIR")
        cfg = load_config(config_path, overrides)
        if name:
            cfg.resolved["name"] = name
    model = prepare(cfg)
    if resume_ckpt is not None:
        try:  # before anything is written: a config changed with --set must still fit the checkpoint
            model.set_weights(resume_ckpt.weights)
            model.optimizer.set_state(resume_ckpt.optimizer_state)
        except NNTrainError as exc:
            raise CheckpointError(f"{resume_ckpt.path} does not fit the config given with --resume: {exc}") from None
    if weights is not None and resume is None:
        loaded = load_weights_by_name(model, Path(weights))
    bundle = load_bundle(cfg, progress=download_progress)
    check_bundle(model, bundle, cfg)

    # Everything is valid: from here on the run folder exists.
    if resume is not None:
        run_dir = resume
        info["resumes"] = info.get("resumes", []) + [{
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "from_epoch": resume_ckpt.epoch,
            "overrides": list(overrides), "command": command}]
        info["status"] = "running"
    else:
        run_dir = runs.new_run_dir(Path(runs_dir), cfg["name"])
        info = runs.run_info(command)
        info["config"] = str(Path(config_path).resolve())
        info["config_dir"] = str(cfg.base_dir.resolve())
        if weights is not None:
            info["initial_weights"] = {"checkpoint": str(Path(weights).resolve()), "layers": loaded}
    resolved = write_run_files(run_dir, cfg, model, bundle, info)
    if on_start is not None:
        on_start(run_dir, cfg, model)
    callbacks, recorder = run_callbacks(cfg, run_dir, bundle)
    if display is not None:
        callbacks += [TrainingWatch(display.warn), display]
    trainer = make_trainer(model, cfg, bundle, callbacks)
    trainer.extras = {"config": resolved, "preprocessing": bundle.preprocessor.get_state()}
    if resume_ckpt is not None:
        restore_trainer(trainer, resume_ckpt)

    status, code, message = "finished", 0, ""
    try:
        with trainer.stop_request.on_signals():
            trainer.run()
        if trainer.nan_detected:
            status, code = "failed", 1
            message = (f"stopped: {trainer.stop_reason}. The last good checkpoint is "
                       f"{run_dir / 'checkpoints' / 'last.h5'} (epoch {len(trainer.history.epoch) - 1}).")
        elif trainer.stop_reason:
            message = trainer.stop_reason
    except KeyboardInterrupt:
        status, code = "interrupted", 130
        message = (f"interrupted during epoch {trainer.epoch + 1}; checkpoints/last.h5 holds epoch "
                   f"{trainer.epoch}. Resume with: nntrain fit --resume {run_dir}")
    recorder.trainer = trainer
    recorder.write()
    info.update({"finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "status": status,
                 "epochs": len(trainer.history.epoch), "stop_reason": trainer.stop_reason})
    runs.write_json(run_dir / "run.json", info)
    final, best = summarize_history(trainer.history.history)
    return FitResult(run_dir, status, code, trainer.history.history, final, best, message)


def _monitor(cfg: RunConfig) -> tuple[str, str]:
    """(monitor, mode) of best.h5: those of the config's model_checkpoint or early_stopping, else val_loss."""
    for cb in cfg["callbacks"]:
        if cb.get("name") in ("model_checkpoint", "early_stopping") and cb.get("monitor"):
            return cb["monitor"], cb.get("mode", "auto")
    return "val_loss", "auto"


def _yaml(tree: dict) -> str:
    import yaml

    return yaml.safe_dump(tree, sort_keys=False, default_flow_style=None, width=100)
