"""What a search leaves behind: the leaderboard (every trial, best first, with where its run folder lives),
leaderboard.csv, best.yaml (the best trial's config as plain YAML that `nntrain fit` runs), Optuna's plots, and
with --refit the best config trained on every training row and evaluated on the test split."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from nntrain import runs
from nntrain.commands import study as studies

BEST_FILE = "best.yaml"
ORDER = {"COMPLETE": 0, "PRUNED": 1, "RUNNING": 2, "FAIL": 3}


def leaderboard(session, study) -> dict:
    """The search's standing: objective, counts per state, the best trial and one row per trial, best first
    (completed by value in the objective's direction, then pruned, running and failed ones)."""
    tune_dir = Path(session.setup.tune_dir).resolve()
    sign = -1 if session.setup.direction == "up" else 1
    rows = []
    for t in study.get_trials(deepcopy=False):
        state = t.state.name
        a = studies.attrs(t)
        if state == "WAITING" or a.get("surplus"):
            continue
        value = t.value if state == "COMPLETE" else (t.intermediate_values[max(t.intermediate_values)]
                                                      if t.intermediate_values else None)
        rows.append({"trial": t.number, "state": _state(t), "value": value, "params": t.params,
                     "epochs": a.get("epochs"), "seconds": a.get("seconds"), "where": _where(a, tune_dir),
                     "message": a.get("message") or ""})
    rows.sort(key=lambda r: (ORDER.get(r["state"].upper() if r["state"] != "interrupted" else "FAIL", 3),
                             sign * r["value"] if _finite(r["value"]) else math.inf, r["trial"]))
    counts = {s: sum(1 for r in rows if r["state"] == s) for s in ("complete", "pruned", "running", "failed",
                                                                   "interrupted")}
    best = None
    try:
        b = study.best_trial
        a = studies.attrs(b)
        best = {"trial": b.number, "value": b.value, "params": b.params, "epoch": a.get("best_epoch"),
                "where": _where(a, tune_dir)}
    except ValueError:  # nothing completed yet
        pass
    return {"tune_dir": str(session.setup.tune_dir), "study": session.study, "storage": studies.shown_url(session.url),
            "objective": session.setup.search.objective, "direction": session.setup.direction,
            "target": session.target, "counts": counts, "best": best, "trials": rows}


def _state(t) -> str:
    if t.state.name == "FAIL" and studies.attrs(t).get("interrupted"):
        return "interrupted"
    return {"COMPLETE": "complete", "PRUNED": "pruned", "RUNNING": "running"}.get(t.state.name, "failed")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _where(attrs: dict, tune_dir: Path) -> str:
    """A trial's run folder: relative to the tune folder when it is on this machine and inside it, else
    host:path (another worker's machine)."""
    path = attrs.get("run_dir")
    if not path:
        return ""
    if attrs.get("host") not in (None, studies.HOST):
        return f"{attrs['host']}:{path}"
    p = Path(path)
    return str(p.relative_to(tune_dir)) if p.is_relative_to(tune_dir) else str(p)


def leaderboard_csv(document: dict) -> str:
    params = list(dict.fromkeys(k for r in document["trials"] for k in r["params"]))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["trial", "state", document["objective"], *params, "epochs", "seconds", "where"])
    for r in document["trials"]:
        w.writerow([r["trial"], r["state"], "" if not _finite(r["value"]) else repr(float(r["value"])),
                    *(r["params"].get(k, "") for k in params), r["epochs"] if r["epochs"] is not None else "",
                    "" if r["seconds"] is None else f"{r['seconds']:.2f}", r["where"]])
    return buf.getvalue()


def best_config(session, best: dict) -> tuple[Path, object]:
    """best.yaml: the config with the best trial's values, resolved (every default written, data paths absolute),
    named NAME-best. Returns (its path, the loaded config)."""
    from nntrain.commands.session import absolute_data_paths
    from nntrain.config import dump_yaml, load_config
    from nntrain.config.search import setting

    s = session.setup
    settings = [setting(p, best["params"][p.path]) for p in s.search.params if p.path in best["params"]]
    cfg = load_config(s.config_path, [*s.overrides, *settings], base_dir=s.base_dir)
    resolved = {**absolute_data_paths(cfg.resolved, cfg.base_dir), "name": f"{session.name}-best"}
    path = Path(s.tune_dir) / BEST_FILE
    runs.atomic_write_text(path, f"# the best trial ({best['trial']}) of {session.name}: "
                                 f"{s.search.objective}={best['value']:.6g}\n" + dump_yaml(resolved))
    return path, cfg


def finish(session, study, plots: bool, refit: bool, on_event) -> dict:
    """The leaderboard written as leaderboard.csv, best.yaml, the plots, and the refit when asked."""
    document = leaderboard(session, study)
    tune_dir = Path(session.setup.tune_dir)
    runs.atomic_write_text(tune_dir / "leaderboard.csv", leaderboard_csv(document))
    if document["best"] is not None:
        path, cfg = best_config(session, document["best"])
        document["best_config"] = str(path)
        if refit:
            document["refit"] = _refit(session, path, cfg, document["best"], on_event)
    document["plots"] = [str(p) for p in studies.plots(study, tune_dir / "plots")] if plots else []
    return document


def _refit(session, path: Path, cfg, best: dict, on_event) -> dict:
    """best.yaml on every training row, for the epoch count of the best trial's best epoch."""
    from nntrain.commands.refit import refit
    from nntrain.data import load_raw

    raw = load_raw(cfg["data"], cfg.base_dir)
    raw.validation = None
    epochs = best.get("epoch") or cfg["training"]["epochs"]
    tune_dir = Path(session.setup.tune_dir)
    return refit(path, [], None, f"{session.name}-refit", raw, tune_dir / "refit", epochs, on_event,
                 {"kind": "tune-refit", "tune_dir": str(tune_dir.resolve()), "trial": best["trial"],
                  "command": session.setup.command})
