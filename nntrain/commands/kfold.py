"""`nntrain kfold`: K-fold cross-validation of one config.

Each fold trains a fresh model from the config on K-1 parts of the training rows and validates on the part held
out; the preprocessing is fitted on the fold's training part only. Folds come from the config's seed and are saved,
and every fold seeds its model and shuffling with that same seed, so the results are the same however many worker
processes (`jobs`) run them. Layout:

    runs/NAME/                  config.yaml, run.json, folds.npz, kfold.json, kfold.csv
    runs/NAME/fold-1 .. fold-K/ normal run folders (config, history.csv, metrics.json, splits.npz, checkpoints)
    runs/NAME/refit/            with refit: all training rows, the best averaged epoch count, evaluated on test
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nntrain import interrupts, runs
from nntrain.commands.folds import STOP, FoldJob, failed_result, run_parallel, train_fold
from nntrain.commands.recorder import NOT_METRICS, best_monitor
from nntrain.engine import monitor as monitor_rule
from nntrain.errors import ConfigError, NNTrainError, StorageError


@dataclass
class KFoldResult:
    """What `kfold` did: the summary (also kfold.json), the folder, and the exit code (0, 1 a fold failed, 130)."""

    run_dir: Path
    summary: dict
    exit_code: int = 0
    message: str = ""
    folds: list = field(default_factory=list)


def kfold_document(result: KFoldResult) -> dict:
    """What `nntrain kfold --json` prints: the folder, exit code and message, and kfold.json (status, per-fold
    results, mean and std per metric, the averaged curves, the best epoch, the refit and its test metrics)."""
    return {"run_dir": str(result.run_dir), "exit_code": result.exit_code, "message": result.message,
            **result.summary}


# --- summaries -------------------------------------------------------------------------------------------
def _mean_std(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    a = np.asarray(vals, np.float64)
    return float(a.mean()), float(a.std())


def _curves(done: list[dict], keys: list[str]) -> dict:
    """Per key, the per-epoch mean and std over the folds that reached that epoch, and how many did."""
    curves = {}
    for k in keys:
        per_fold = [r["history"].get(k, []) for r in done]
        longest = max((len(c) for c in per_fold), default=0)
        stats = [_mean_std([c[e] for c in per_fold if e < len(c)]) for e in range(longest)]
        curves[k] = {"mean": [m for m, _ in stats], "std": [s for _, s in stats],
                     "folds": [sum(1 for c in per_fold if e < len(c)) for e in range(longest)]}
    return curves


def summarize(results: list[dict], monitor: str, mode: str = "auto") -> dict:
    """Per-key mean and (population) std over the finished folds of their final and best values, the per-epoch
    curves averaged over folds, and the epoch where the averaged `monitor` curve is best.

    The best epoch is searched among epochs every finished fold reached, so a tail averaged over a few folds
    that trained longer (no early stop) cannot win by luck.
    """
    done = [r for r in results if r["status"] == "finished"]
    keys = list(dict.fromkeys(k for r in done for k in r["history"] if k not in NOT_METRICS))
    metrics = {}
    for k in keys:
        fm, fs = _mean_std([r["final"].get(k, math.nan) for r in done])
        bm, bs = _mean_std([r["best"].get(k, {}).get("value", math.nan) for r in done])
        metrics[k] = {"final_mean": fm, "final_std": fs, "best_mean": bm, "best_std": bs}
    curves = _curves(done, keys)
    best_epoch = None
    if monitor in curves and done:
        common = min(len(r["history"].get(monitor, [])) for r in done)
        found = monitor_rule.best_epoch(curves[monitor]["mean"][:common], monitor_rule.resolve(monitor, mode))
        if found is not None:
            best_epoch = {"monitor": monitor, "epoch": found[1] + 1, "value": found[0]}
    return {"metrics": metrics, "curves": curves, "best_epoch": best_epoch}


def _csv_number(v) -> str:
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else repr(float(v))


def _csv(results: list[dict], summary: dict) -> str:
    """kfold.csv: one row per fold (final and best value of every key), then the mean and std rows."""
    fmt = _csv_number
    keys = list(summary["metrics"])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["fold", "status", "epochs"] + [f"final_{k}" for k in keys] + [f"best_{k}" for k in keys])
    for r in results:
        w.writerow([r["fold"], r["status"], r["epochs"]] + [fmt(r["final"].get(k)) for k in keys]
                   + [fmt(r["best"].get(k, {}).get("value")) for k in keys])
    for stat in ("mean", "std"):
        m = summary["metrics"]
        w.writerow([stat, "", ""] + [fmt(m[k][f"final_{stat}"]) for k in keys] + [fmt(m[k][f"best_{stat}"]) for k in keys])
    return buf.getvalue()


# --- the command -----------------------------------------------------------------------------------------
def _check_counts(folds, jobs) -> None:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs expects a positive number of worker processes, got {jobs!r}")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"--folds expects at least 2 folds, got {folds!r}")


def _split(cfg, raw, folds: int, stratify: bool) -> list:
    """The folds' (train, val) positions in raw.train; errors before anything is written."""
    from nntrain.data import kfold_indices

    n = len(raw.train)
    labels = None
    if stratify:
        labels = raw.stratify_labels()
        if labels is None:
            raise ConfigError(f"--stratify keeps class proportions, but the target of {raw.name} is not a class "
                              f"label (regression or several columns); drop --stratify")
    if folds > n:
        raise ConfigError(f"--folds {folds} is more than the {n} training rows of {raw.name}; use 2..{n} folds")
    return kfold_indices(n, folds, seed=cfg["seed"], stratify_labels=labels)


def _train_here(cfg, raw, fold_jobs: list[FoldJob], epochs: int, on_event) -> tuple[dict, int]:
    """The folds one after another in this process. Returns ({fold: result}, 0 or the exit code of the signal that
    interrupted them: 130 Ctrl-C, 143 SIGTERM)."""
    results: dict[int, dict] = {}
    try:
        with STOP.on_signals(raise_on_exit=True):
            for job in fold_jobs:
                on_event({"type": "start", "fold": job.fold, "epochs": epochs})
                results[job.fold] = train_fold(cfg, raw, job.train_pos, job.val_pos, Path(job.run_dir), job.fold,
                                               on_event, job.info)
                if results[job.fold]["status"] == "interrupted":
                    break
    except KeyboardInterrupt:
        pass
    stopped = len(results) < len(fold_jobs) or any(r["status"] == "interrupted" for r in results.values())
    return results, interrupts.exit_code(STOP.interrupt()) if stopped else 0


def kfold(config_path, folds: int, stratify: bool = False, jobs: int = 1, refit: bool = False, overrides=(),
          runs_dir: Path = Path("runs"), name: str | None = None, on_event=None, command=None,
          on_start=None) -> KFoldResult:
    """Cross-validate a config over `folds` folds of its training rows (see module docstring).

    Args:
        stratify: keep class proportions in every fold (classification targets only).
        jobs: worker processes; 1 trains the folds one after another in this process.
        refit: afterwards train on all training rows for the best averaged epoch count; evaluate on test.
        on_event: called with {"type": "start"|"epoch"|"end", "fold": i or "refit", ...} for progress displays.
        on_start: called with (run_dir, cfg) once the folder exists.

    Raises:
        ConfigError/DataError before anything is written: bad config, folds < 2 or > rows, stratify on regression.
    """
    from nntrain.commands.prepare import Rows, early_check, prepare_run
    from nntrain.config import load_config
    from nntrain.data import load_raw

    on_event, command = on_event or (lambda event: None), command if command is not None else sys.argv
    _check_counts(folds, jobs)
    runs.remove_stale_temporaries(Path(runs_dir))  # left by processes killed while writing
    cfg = load_config(config_path, list(overrides))
    if name is not None:  # the rule `name:` passes, for the folder is made from it
        cfg.resolved["name"] = runs.check_run_name(name, "--name")
    # workers rebuild the config from the file: pin the seed (a config without one gets a random seed)
    overrides = [*overrides, f"seed={cfg['seed']}"]
    early_check(cfg)
    raw = load_raw(cfg["data"], cfg.base_dir)
    notes = []
    if raw.validation is not None:
        notes.append("data.validation is not used: every fold validates on its held-out part")
        raw.validation = None
    split = _split(cfg, raw, folds, stratify)
    prepare_run(cfg, rows=Rows(raw, *split[0]))  # the first fold's preparation: its mistakes leave no folder
    run_dir = _start_folder(cfg, raw, split, runs_dir, config_path, command,
                            {"folds": folds, "stratify": stratify, "jobs": jobs, "refit": refit})
    fold_jobs = _jobs(cfg, config_path, overrides, split, run_dir, command)
    started, epochs = time.perf_counter(), cfg["training"]["epochs"]
    try:
        if on_start is not None:
            on_start(run_dir, cfg)
        results, interrupted = (_train_here(cfg, raw, fold_jobs, epochs, on_event) if jobs == 1 else
                                run_parallel(fold_jobs, min(jobs, folds), epochs, on_event))
    except BaseException as exc:  # a closed stdout, a full disk, a bug: the folder must not look alive
        _set_status(run_dir, "failed" if isinstance(exc, StorageError) else "interrupted", str(exc))
        raise
    ordered = [results.get(j.fold) or failed_result(j.fold, j.run_dir, "not run (interrupted)", "interrupted")
               for j in fold_jobs]
    report = _report(cfg, config_path, folds, stratify, len(raw.train), ordered, interrupted, notes,
                     {"jobs": jobs, "seconds": time.perf_counter() - started,
                      "fold_seconds": [r.get("seconds") for r in ordered]})
    code, message = _outcome(ordered, interrupted)
    if refit and not interrupted:
        report["refit"] = _refit(cfg, raw, run_dir, report, on_event, command)
        code, message = _refit_outcome(report["refit"], code, message)
    _write_report(run_dir, ordered, report)
    return KFoldResult(run_dir, report, code, message, ordered)


def _write_report(run_dir: Path, ordered: list[dict], report: dict) -> None:
    """kfold.json, kfold.csv and the folder's status; a write that fails (a full disk) marks the folder failed."""
    try:
        runs.write_json(run_dir / "kfold.json", report)
        runs.atomic_write_text(run_dir / "kfold.csv", _csv(ordered, report))
    except StorageError as exc:
        _set_status(run_dir, "failed", str(exc))
        raise
    _set_status(run_dir, report["status"])


def _jobs(cfg, config_path, overrides, split, run_dir: Path, command) -> list[FoldJob]:
    """One FoldJob per fold: all a worker process needs to train it on its own."""
    base = str(cfg.base_dir) if cfg.base is not None else None
    return [FoldJob(str(config_path), list(overrides), base, cfg["name"], i + 1, tr, va, str(run_dir / f"fold-{i + 1}"),
                    {"kind": "kfold-fold", "fold": i + 1, "folds": len(split), "kfold_dir": str(run_dir.resolve()),
                     "command": command})
            for i, (tr, va) in enumerate(split)]


def _start_folder(cfg, raw, split, runs_dir, config_path, command, options: dict) -> Path:
    """The k-fold folder: config.yaml, folds.npz (the rows of every fold) and run.json."""
    from nntrain.commands.session import write_config

    run_dir = runs.new_run_dir(Path(runs_dir), cfg["name"])
    try:
        write_config(run_dir, cfg)
        runs.write_npz(run_dir / "folds.npz", {f"fold_{i + 1}_{part}": raw.train.rows[idx] for i, (tr, va)
                                               in enumerate(split) for part, idx in (("train", tr), ("val", va))})
        info = runs.run_info(command)
        info.update(kind="kfold", config=str(Path(config_path).resolve()), config_dir=str(cfg.base_dir.resolve()),
                    **options)
        runs.write_json(run_dir / "run.json", info)
    except BaseException:  # a full disk, a signal: no half-made k-fold folder is left behind
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return run_dir


def _set_status(run_dir: Path, status: str, reason: str | None = None) -> None:
    """run.json's status, best effort: it runs while something else has gone wrong (a full disk)."""
    with suppress(NNTrainError):
        info = runs.read_json(run_dir / "run.json")
        info.update(status=status, finished=runs.timestamp(), **({"stop_reason": reason} if reason else {}))
        try:
            runs.write_json(run_dir / "run.json", info)
        except StorageError:
            runs.write_json(run_dir / "run.json", info, atomic=False)


def _report(cfg, config_path, folds, stratify, rows, ordered, interrupted, notes, timing) -> dict:
    """kfold.json's content (before the refit)."""
    monitor, mode = best_monitor(cfg)
    status = "interrupted" if interrupted else (
        "finished" if all(r["status"] == "finished" for r in ordered) else "partial")
    return {
        "name": cfg["name"], "config": str(Path(config_path).resolve()), "folds": folds, "stratify": stratify,
        "seed": cfg["seed"], "rows": rows, "monitor": monitor, "status": status,
        "per_fold": [{k: r.get(k) for k in ("fold", "status", "epochs", "final", "best", "message", "run_dir")}
                     for r in ordered],
        **summarize(ordered, monitor, mode),
        "notes": notes,
        "timing": timing,
    }


def _outcome(ordered: list[dict], interrupted: int) -> tuple[int, str]:
    if interrupted:
        return interrupted, "interrupted: finished folds are summarised; the others are marked interrupted"
    failed = [r for r in ordered if r["status"] == "failed"]
    if failed:
        return 1, "; ".join(f"fold {r['fold']} failed: {r['message']}" for r in failed)
    return 0, ""


def _refit_outcome(refit: dict, code: int, message: str) -> tuple[int, str]:
    if refit["status"] == "interrupted":
        return interrupts.exit_code(STOP.interrupt()), "interrupted while refitting on all training rows"
    if refit["status"] == "failed" and not code:
        return 1, f"the refit failed: {refit['message']}"
    return code, message


def _refit(cfg, raw, run_dir: Path, summary: dict, on_event, command) -> dict:
    """Train on every training row for the best averaged epoch count, then evaluate on the test split."""
    from nntrain.commands.refit import refit

    best = summary.get("best_epoch")
    epochs = best["epoch"] if best else cfg["training"]["epochs"]
    return refit(cfg.path, [*cfg.overrides, f"seed={cfg['seed']}"], cfg.base, cfg["name"], raw, run_dir / "refit",
                 epochs, on_event, {"kind": "kfold-refit", "kfold_dir": str(run_dir.resolve()), "command": command})
