"""`nntrain fit`: train from a config file, or resume a run folder exactly, through the one run function."""

from __future__ import annotations

import os
from pathlib import Path

from nntrain import runs
from nntrain.commands.session import RunResult, train_run
from nntrain.config import load_config
from nntrain.errors import CheckpointError, ConfigError


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
            runs.remove_stale_temporaries(Path(resume))  # left by a process killed while writing
            cfg, checkpoint, info = _resumed(Path(resume), overrides, command, lock)
            folder, weights = (lambda cfg: Path(resume)), None
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
        shown = [TrainingWatch(display.warn), display] if display is not None else []
        result = train_run(cfg, folder, info, resume=checkpoint, weights=weights, callbacks=shown,
                           on_start=on_start, download_progress=download_progress)
    if result.error is not None:  # recorded as failed in run.json; the user sees the error itself
        raise result.error
    return result


def _resumed(run_dir: Path, overrides, command, lock):
    """(config, last checkpoint, run.json with this resume appended) of a run folder to continue, whose `lock`
    is taken before anything of it is read (RunLocked while another process writes it)."""
    from nntrain.runs.checkpoint import load

    if not (run_dir / "config.yaml").exists():
        raise CheckpointError(f"{run_dir}: not a run folder (no config.yaml); give the folder `nntrain fit` "
                              f"created, e.g. runs/NAME")
    lock.hold(run_dir)
    info = runs.read_json(run_dir / "run.json") if (run_dir / "run.json").exists() else {}
    if not (run_dir / "checkpoints" / "last.h5").exists():
        raise CheckpointError(_nothing_to_resume(run_dir, info))
    cfg = load_config(run_dir / "config.yaml", overrides, base_dir=Path(info.get("config_dir", run_dir)))
    checkpoint = load(run_dir / "checkpoints" / "last.h5")
    info["resumes"] = info.get("resumes", []) + [{"time": runs.timestamp(), "from_epoch": checkpoint.epoch,
                                                  "overrides": list(overrides), "command": command}]
    if lock.stale:  # a process that died while writing the run left its lock: say whose it was
        info["resumes"][-1]["stale_lock"] = lock.stale
    info.update(status="running", pid=os.getpid())  # the process training it now
    return cfg, checkpoint, info


def _nothing_to_resume(run_dir: Path, info: dict) -> str:
    """Why a run folder without checkpoints/last.h5 cannot be resumed, and how to start the run again."""
    status = info.get("status", "unknown")
    if status == "running" and not runs.process_alive(info.get("pid")):
        status = "killed"
    config = info.get("config") or "CONFIG"
    return (f"{run_dir}: nothing to resume: the run ({status}) stopped before its first checkpoint was written, "
            f"so no epoch was saved. To start it again under the same name, remove the folder (`nntrain runs "
            f"--clean {run_dir.parent}` removes every such folder) and run: nntrain fit {config} --name "
            f"{run_dir.name} --runs-dir {run_dir.parent}")
