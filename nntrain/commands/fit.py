"""`nntrain fit`: train from a config file, or resume a run folder exactly (commands/resume.py), through the one
run function."""

from __future__ import annotations

from pathlib import Path

from nntrain import runs
from nntrain.commands.resume import resumed
from nntrain.commands.session import RunResult, train_run
from nntrain.config import load_config
from nntrain.errors import ConfigError


def fit(config_path=None, overrides=(), runs_dir: Path = Path("runs"), name: str | None = None,
        resume: Path | None = None, weights: Path | None = None, display=None, download_progress=None,
        command: list[str] | None = None, on_start=None) -> RunResult:
    """Train from a config file (or resume a run folder) and write everything into the run folder.

    Args:
        display: a ProgressDisplay-like callback (or None for silence); it also receives warnings.
        on_start: called with (run_dir, cfg, model) once the run folder exists.
    Raises:
        NNTrainError (ConfigError, ShapeError, DataError, CheckpointError) before anything is written.
    """
    from nntrain.runs.lock import RunLock
    from nntrain.training.progress import TrainingWatch

    with RunLock() as lock:  # one writer per run folder, released however the run ends
        if resume is not None:
            for given, option in ((name, "--name"), (weights, "--weights")):
                if given is not None:
                    raise ConfigError(f"{option} applies to a new run; --resume continues {resume} as it is")
            runs.remove_stale_temporaries(Path(resume))  # left by a process killed while writing
            cfg, checkpoint, info = resumed(Path(resume), overrides, command, lock, config_path)
            folder = lambda cfg: Path(resume)  # noqa: E731
        else:
            runs.remove_stale_temporaries(Path(runs_dir))
            if config_path is None:
                raise ConfigError("give a config file, or --resume RUN_DIR")
            cfg, checkpoint = load_config(config_path, overrides), None
            if name is not None:  # the rule `name:` passes, for the folder is made from it
                cfg.resolved["name"] = runs.check_run_name(name, "--name")
            info = {**runs.run_info(command), "config": str(Path(config_path).resolve()),
                    "config_dir": str(cfg.base_dir.resolve())}
            folder = lambda cfg: lock.hold(runs.new_run_dir(Path(runs_dir), cfg["name"]))  # noqa: E731
        shown = [TrainingWatch(display.warn, scales_inputs(cfg["data"])), display] if display is not None else []
        result = train_run(cfg, folder, info, resume=checkpoint, weights=weights, callbacks=shown,
                           on_start=on_start, download_progress=download_progress)
    if result.error is not None:  # recorded as failed in run.json; the user sees the error itself
        raise result.error
    return result


def scales_inputs(data: dict) -> bool:
    """Whether a data section scales its inputs (standardize, min-max or rescale among its preprocessing steps)."""
    from nntrain.data.steps import STEPS

    scalers = [STEPS.get(name) for name in ("standardize", "minmax", "rescale")]
    scaling = {n for n in STEPS.names(aliases=True) if STEPS.get(n) in scalers}

    def names(tree):
        if isinstance(tree, str):
            yield tree
        elif isinstance(tree, dict):
            for key, value in tree.items():
                yield key
                yield from names(value)
        elif isinstance(tree, list):
            for item in tree:
                yield from names(item)

    return any(n in scaling for n in names(data.get("preprocessing")))


def fit_document(result: RunResult) -> dict:
    """What `nntrain fit --json` prints: the run folder, how the run ended, and metrics.json (epochs, final, best,
    best_epoch, kept)."""
    return {"run_dir": str(result.run_dir), "status": result.status, "exit_code": result.exit_code,
            "message": result.message, "seconds": result.seconds, **result.metrics}
