"""`nntrain fit --resume`: continue a run folder, never damaging a finished run.

A run that was interrupted (or killed, or failed) continues from checkpoints/last.h5 exactly. A run that finished (all its epochs, or stopped by early stopping) is refused unless
`--set training.epochs=N` asks for more epochs than ran: then epochs ran+1 .. N are trained, early stopping keeping
its best value, epoch and weights while its patience counts again from the resume. A config file given with
--resume is only a check: with the same --set applied it must be the run's own config (its name, and a seed the file
leaves out, aside), else the error names the keys that differ.
"""

from __future__ import annotations

import os
from pathlib import Path

from nntrain import runs
from nntrain.commands.session import absolute_data_paths
from nntrain.config import load_config
from nntrain.errors import CheckpointError, ConfigError


def resumed(run_dir: Path, overrides, command, lock, config_path=None):
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
    if config_path is not None:
        check_same_config(Path(config_path), overrides, cfg, run_dir)
    checkpoint = load(run_dir / "checkpoints" / "last.h5")
    extended = _check_epochs(run_dir, info, cfg, checkpoint.epoch, overrides)
    if extended and checkpoint.training_state is not None:
        _restart_patience(checkpoint.training_state)
    info["resumes"] = info.get("resumes", []) + [{"time": runs.timestamp(), "from_epoch": checkpoint.epoch,
                                                  "overrides": list(overrides), "command": command,
                                                  **({"extends": info.get("status")} if extended else {})}]
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
