"""`nntrain fit`: train from a config file, or resume a run folder exactly, through the one run function.

Resuming never damages a finished run. A run that was interrupted (or killed, or failed) continues from
checkpoints/last.h5 exactly. A run that finished (all its epochs, or stopped by early stopping) is refused unless
`--set training.epochs=N` asks for more epochs than ran: then epochs ran+1 .. N are trained, early stopping keeping
its best value, epoch and weights while its patience counts again from the resume. A config file given with
--resume is only a check: with the same --set applied it must be the run's own config (its name, and a seed the file
leaves out, aside), else the error names the keys that differ.
"""

from __future__ import annotations

from pathlib import Path

from nntrain import runs
from nntrain.commands.session import RunResult, absolute_data_paths, train_run
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
    from nntrain.training.progress import TrainingWatch

    if resume is not None:
        for given, option in ((name, "--name"), (weights, "--weights")):
            if given is not None:
                raise ConfigError(f"{option} applies to a new run; --resume continues {resume} as it is")
        cfg, checkpoint, info = _resumed(Path(resume), overrides, command, config_path)
        folder, weights = (lambda cfg: Path(resume)), None
    else:
        if config_path is None:
            raise ConfigError("give a config file, or --resume RUN_DIR")
        cfg, checkpoint = load_config(config_path, overrides), None
        if name:
            cfg.resolved["name"] = name
        info = {**runs.run_info(command), "config": str(Path(config_path).resolve()),
                "config_dir": str(cfg.base_dir.resolve())}
        folder = lambda cfg: runs.new_run_dir(Path(runs_dir), cfg["name"])  # noqa: E731
    shown = [TrainingWatch(display.warn, scales_inputs(cfg["data"])), display] if display is not None else []
    result = train_run(cfg, folder, info, resume=checkpoint, weights=weights, callbacks=shown, on_start=on_start,
                       download_progress=download_progress)
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


def _resumed(run_dir: Path, overrides, command, config_path=None):
    """(config, last checkpoint, run.json with this resume appended) of a run folder to continue."""
    from nntrain.runs.checkpoint import load

    if not (run_dir / "config.yaml").exists():
        raise CheckpointError(f"{run_dir}: not a run folder (no config.yaml); give the folder `nntrain fit` "
                              f"created, e.g. runs/NAME")
    info = runs.read_json(run_dir / "run.json") if (run_dir / "run.json").exists() else {}
    cfg = load_config(run_dir / "config.yaml", overrides, base_dir=Path(info.get("config_dir", run_dir)))
    if config_path is not None:
        check_same_config(Path(config_path), overrides, cfg, run_dir)
    checkpoint = load(run_dir / "checkpoints" / "last.h5")
    extended = _check_epochs(run_dir, info, cfg, checkpoint.epoch, overrides)
    if extended and checkpoint.training_state is not None:
        _restart_patience(checkpoint.training_state)
    info["resumes"] = info.get("resumes", []) + [{"time": runs.timestamp(), "from_epoch": checkpoint.epoch,
                                                  "overrides": list(overrides), "command": command,
                                                  **({"extends": info.get("status")} if extended else {})}]
    info["status"] = "running"
    return cfg, checkpoint, info


def _check_epochs(run_dir: Path, info: dict, cfg, ran: int, overrides) -> bool:
    """Whether resuming continues a finished run on purpose (True) or an unfinished one (False); a finished run
    without `--set training.epochs=N` (N more than ran), or no epoch left to train, is an error."""
    epochs = cfg["training"]["epochs"]
    finished = info.get("status") == "finished"
    asked = any(o.split("=", 1)[0].strip() in ("training.epochs", "training") for o in overrides)
    if finished and asked and epochs > ran:
        return True
    if finished:
        how = info.get("stop_reason") or f"all {ran} of its epochs ran"
        raise ConfigError(f"{run_dir} has finished ({how}); resuming it would change a finished run. To train it "
                          f"on, ask for more epochs than the {ran} that ran: nntrain fit --resume {run_dir} --set "
                          f"training.epochs={max(ran * 2, ran + 10)}. To train again, start a new run: nntrain fit "
                          f"CONFIG")
    if epochs <= ran:
        raise ConfigError(f"{run_dir} has trained {ran} epochs already and training.epochs is {epochs}: nothing "
                          f"left to train; give --set training.epochs=N with N above {ran}")
    return False


def _restart_patience(training_state: dict) -> None:
    """Early stopping that ended a run would stop its extension after one epoch: its patience counts again from
    the resume (best value, epoch and weights carry over, so restore_best_weights still weighs every epoch)."""
    for key, state in training_state.get("callbacks", {}).items():
        if key.split("_")[0] == "EarlyStopping" and isinstance(state, dict) and "wait" in state:
            state["wait"], state["stopped_epoch"] = 0, 0


def check_same_config(config_path: Path, overrides, run_cfg, run_dir: Path) -> None:
    """A config file given with --resume must be the run's own config, both with the same --set applied (the name
    and a seed the file leaves out aside); otherwise ConfigError naming the keys that differ."""
    import yaml

    from nntrain.config import dump_yaml
    from nntrain.config.loader import load_yaml

    given = load_config(config_path, overrides)
    theirs = yaml.safe_load(dump_yaml(run_cfg.resolved))
    mine = yaml.safe_load(dump_yaml(absolute_data_paths(given.resolved, given.base_dir)))
    mine["name"] = theirs.get("name")
    if "seed" not in (load_yaml(config_path)[0] or {}):
        mine["seed"] = theirs.get("seed")  # a config without a seed gets a new random one: not a difference
    their_layers = (theirs.get("model") or {}).get("layers") or []
    for entry, their in zip(mine["model"]["layers"], their_layers):
        if isinstance(their, dict) and "name" not in entry:
            entry["name"] = their.get("name")  # layer names are given when the model is built
    found = differences(mine, theirs)
    if found:
        shown = "; ".join(f"{key} ({_short(a)} in {config_path}, {_short(b)} in the run)" for key, a, b in found[:8])
        more = f" and {len(found) - 8} more" if len(found) > 8 else ""
        raise ConfigError(f"{config_path} is not the config of {run_dir}: {shown}{more}. A resumed run trains with "
                          f"its own config.yaml: drop {config_path} (change values with --set), or leave out "
                          f"--resume to start a new run")


_MISSING = "(not set)"


def _short(value) -> str:
    text = value if value is _MISSING else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def differences(a, b, path: tuple = ()) -> list[tuple[str, object, object]]:
    """(dotted key, value in a, value in b) for each leaf where two config trees differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in dict.fromkeys([*a, *b]) for d in differences(a.get(k, _MISSING), b.get(k, _MISSING),
                                                                          (*path, k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, (*path, i))]
    return [] if a == b else [(".".join(map(str, path)), a, b)]
