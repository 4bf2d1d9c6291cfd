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
import os
import queue as queue_mod
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nntrain import runs
from nntrain.errors import ConfigError, NNTrainError
from nntrain.training.callbacks import Callback
from nntrain.training.loop import StopRequest

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
SKIP_KEYS = ("seconds", "learning_rate")


@dataclass
class KFoldResult:
    """What `kfold` did: the summary (also kfold.json), the folder, and the exit code (0, 1 a fold failed, 130)."""

    run_dir: Path
    summary: dict
    exit_code: int = 0
    message: str = ""
    folds: list = field(default_factory=list)


# --- training one fold (in this process or in a worker) ----------------------------------------------------
class _Events(Callback):
    """Sends one event per epoch to `emit` (the display, or the queue to the parent process)."""

    def __init__(self, emit, fold):
        self.emit, self.fold = emit, fold

    def on_epoch_end(self, epoch, logs):
        self.emit({"type": "epoch", "fold": self.fold, "epoch": epoch + 1, "epochs": self.trainer.epochs,
                   "logs": {k: float(v) for k, v in logs.items() if k != "seconds"}})


# One stop request per process: Ctrl-C / SIGTERM stop the fold being trained at its next batch.
STOP = StopRequest()


def train_run(cfg, raw, train_pos, val_pos, run_dir: Path, fold, emit=None, info_extra: dict | None = None,
              drop_val_callbacks: bool = False) -> dict:
    """Train one model on rows `train_pos` of raw.train (validating on `val_pos`, or on nothing when None) and
    write a normal run folder at `run_dir`.

    Returns:
        {fold, status (finished | failed | interrupted), epochs, final, best, history, message, run_dir, seconds};
        a Ctrl-C (KeyboardInterrupt) while training is recorded and returned as status "interrupted".
    """
    from nntrain.data import make_bundle
    from nntrain.experiment import (check_bundle, make_trainer, prepare, run_callbacks, summarize_history,
                                    write_run_files)

    start = time.perf_counter()
    emit = emit or (lambda event: None)
    run_dir.mkdir(parents=True, exist_ok=True)
    info = {**runs.run_info(), **(info_extra or {}), "config_dir": str(cfg.base_dir.resolve()), "pid": os.getpid()}
    result = {"fold": fold, "status": "failed", "epochs": 0, "final": {}, "best": {}, "history": {}, "message": "",
              "run_dir": run_dir.name}
    try:
        model = prepare(cfg)
        bundle = make_bundle(raw, cfg["data"], train_idx=train_pos, val_idx=val_pos, validation_split=0.0)
        check_bundle(model, bundle)
        resolved = write_run_files(run_dir, cfg, model, bundle, info)
        callbacks, recorder = run_callbacks(cfg, run_dir, bundle, drop_val_callbacks)
        callbacks.append(_Events(emit, fold))
        trainer = make_trainer(model, cfg, bundle, callbacks, stop_request=STOP)
        trainer.extras = {"config": resolved, "preprocessing": bundle.preprocessor.get_state()}
    except Exception as exc:  # a fold that cannot start is reported like one that fails while training
        result["message"] = str(exc) if isinstance(exc, NNTrainError) else f"{type(exc).__name__}: {exc}"
        info.update(status="failed", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), stop_reason=result["message"])
        runs.write_json(run_dir / "run.json", info)
        result["seconds"] = time.perf_counter() - start
        return result

    status, message = "finished", ""
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a NaN loss is reported as a failure
            trainer.run()
        if trainer.nan_detected:
            status, message = "failed", f"stopped: {trainer.stop_reason}"
        elif trainer.stop_reason:
            message = trainer.stop_reason
    except KeyboardInterrupt:
        status, message = "interrupted", f"interrupted during epoch {trainer.epoch + 1}"
    except Exception as exc:  # e.g. a custom callback raising: this fold fails, the others go on
        status, message = "failed", f"{type(exc).__name__}: {exc}"
    recorder.trainer = trainer
    recorder.write()
    history = trainer.history.history
    final, best = summarize_history(history)
    info.update(status=status, finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), epochs=len(trainer.history.epoch),
                stop_reason=trainer.stop_reason or (message if status != "finished" else None))
    runs.write_json(run_dir / "run.json", info)
    result.update(status=status, epochs=len(trainer.history.epoch), message=message, history=history,
                  final={k: v for k, v in final.items() if k not in SKIP_KEYS}, best=best,
                  seconds=time.perf_counter() - start)
    emit({"type": "end", "fold": fold, "status": status, "epochs": result["epochs"], "final": result["final"],
          "message": message})
    return result


@dataclass
class FoldJob:
    """What a worker process needs to rebuild the config, data and fold on its own (all picklable)."""

    config_path: str
    overrides: list
    base_dir: str | None
    name: str
    fold: int
    train_pos: np.ndarray
    val_pos: np.ndarray
    run_dir: str
    info: dict


def _load(job: FoldJob):
    from nntrain.config import load_config
    from nntrain.data import load_raw

    cfg = load_config(job.config_path, job.overrides, base_dir=job.base_dir)
    cfg.resolved["name"] = job.name
    raw = load_raw(cfg["data"], cfg.base_dir)
    raw.validation = None
    return cfg, raw


def _worker(job: FoldJob, events) -> None:
    """Entry point of a worker process: one fold; everything it says goes through `events`."""

    # Ctrl-C reaches every process of the terminal, and the parent then sends SIGTERM: both only ask the fold to
    # stop at the next batch (the parent kills a worker that does not stop within seconds)
    handle = STOP.handler(insist=False)
    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    emit = events.put
    try:
        cfg, raw = _load(job)
        result = train_run(cfg, raw, job.train_pos, job.val_pos, Path(job.run_dir), job.fold, emit, job.info)
    except KeyboardInterrupt:
        result = {**_failed_result(job, "interrupted"), "status": "interrupted"}
    except Exception as exc:  # reported as this fold's failure; the parent goes on with the others
        result = _failed_result(job, f"{type(exc).__name__}: {exc}")
    emit({"type": "done", "fold": job.fold, "result": result})
    events.close()
    events.join_thread()
    if result["status"] == "interrupted":
        raise SystemExit(130)


@contextmanager
def _single_threaded_blas():
    """Worker processes inherit one BLAS/OpenMP thread each, so N workers do not fight over the cores."""
    old = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update({k: "1" for k in THREAD_VARS})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _failed_result(job: FoldJob, message: str) -> dict:
    return {"fold": job.fold, "status": "failed", "epochs": 0, "final": {}, "best": {}, "history": {},
            "message": message, "run_dir": Path(job.run_dir).name}


def _run_parallel(jobs_list: list[FoldJob], jobs: int, epochs: int, on_event) -> tuple[dict, bool]:
    """Run folds in up to `jobs` spawned processes. Returns ({fold: result}, interrupted)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    pending = list(jobs_list)
    running: dict[int, tuple] = {}
    results: dict[int, dict] = {}

    def handle(event):
        if event["type"] == "done":
            results[event["fold"]] = event["result"]
        else:
            on_event(event)

    def drain(timeout):
        try:
            handle(events.get(timeout=timeout))
            while True:
                handle(events.get_nowait())
        except queue_mod.Empty:
            pass

    try:
        while pending or running:
            while pending and len(running) < jobs:
                job = pending.pop(0)
                proc = ctx.Process(target=_worker, args=(job, events), name=f"nntrain-fold-{job.fold}", daemon=True)
                with _single_threaded_blas():
                    proc.start()
                running[job.fold] = (proc, job)
                on_event({"type": "start", "fold": job.fold, "epochs": epochs})
            drain(0.1)
            for fold, (proc, job) in list(running.items()):
                if fold in results:
                    proc.join()
                    del running[fold]
                elif not proc.is_alive():
                    drain(0.5)  # its last messages may still be in the pipe
                    if fold not in results:
                        results[fold] = _failed_result(job, f"the worker process exited with code {proc.exitcode}")
                        on_event({"type": "end", "fold": fold, "status": "failed", "epochs": 0, "final": {},
                                  "message": results[fold]["message"]})
                    del running[fold]
        return results, False
    except KeyboardInterrupt:
        with _ignoring_sigint():
            for proc, _ in running.values():
                if proc.is_alive():
                    proc.terminate()  # SIGTERM: the worker records its run as interrupted, then exits
            deadline = time.monotonic() + 10
            while any(p.is_alive() for p, _ in running.values()) and time.monotonic() < deadline:
                try:
                    drain(0.1)  # keep reading, or a worker blocks writing its result into a full pipe
                except (OSError, EOFError):
                    break
            for proc, _ in running.values():
                if proc.is_alive():
                    proc.kill()
                proc.join()
            try:
                drain(0.1)
            except (OSError, EOFError):
                pass
        return results, True
    finally:
        events.close()


@contextmanager
def _ignoring_sigint():
    """A second Ctrl-C while the workers are being stopped would leave them running: ignore it meanwhile."""
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to protect
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)


# --- summaries -------------------------------------------------------------------------------------------
def _mean_std(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    a = np.asarray(vals, np.float64)
    return float(a.mean()), float(a.std())


def summarize(results: list[dict], monitor: str, mode: str = "auto") -> dict:
    """Per-key mean and (population) std over the finished folds of their final and best values, the per-epoch
    curves averaged over folds, and the epoch where the averaged `monitor` curve is best.

    The best epoch is searched among epochs every finished fold reached, so a tail averaged over a few folds
    that trained longer (no early stop) cannot win by luck.
    """
    from nntrain.engine import monitor as monitor_rule

    done = [r for r in results if r["status"] == "finished"]
    keys = list(dict.fromkeys(k for r in done for k in r["history"] if k not in SKIP_KEYS))
    metrics = {}
    for k in keys:
        fm, fs = _mean_std([r["final"].get(k, math.nan) for r in done])
        bm, bs = _mean_std([r["best"].get(k, {}).get("value", math.nan) for r in done])
        metrics[k] = {"final_mean": fm, "final_std": fs, "best_mean": bm, "best_std": bs}
    curves = {}
    for k in keys:
        per_fold = [r["history"].get(k, []) for r in done]
        longest = max((len(c) for c in per_fold), default=0)
        mean, std, count = [], [], []
        for e in range(longest):
            m, s = _mean_std([c[e] for c in per_fold if e < len(c)])
            mean.append(m)
            std.append(s)
            count.append(sum(1 for c in per_fold if e < len(c)))
        curves[k] = {"mean": mean, "std": std, "folds": count}
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
    from nntrain.config import load_config
    from nntrain.data import kfold_indices, load_raw
    from nntrain.experiment import _monitor, prepare

    on_event = on_event or (lambda event: None)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs expects a positive number of worker processes, got {jobs!r}")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"--folds expects at least 2 folds, got {folds!r}")
    cfg = load_config(config_path, list(overrides))
    if name:
        cfg.resolved["name"] = name
    # workers rebuild the config from the file: pin the seed (a config without one gets a random seed)
    overrides = [*overrides, f"seed={cfg['seed']}"]
    prepare(cfg)
    raw = load_raw(cfg["data"], cfg.base_dir)
    notes = []
    if raw.validation is not None:
        notes.append("data.validation is not used: every fold validates on its held-out part")
        raw.validation = None
    n = len(raw.train)
    labels = None
    if stratify:
        labels = raw.stratify_labels()
        if labels is None:
            raise ConfigError(f"--stratify keeps class proportions, but the target of {raw.name} is not a class "
                              f"label (regression or several columns); drop --stratify")
    if folds > n:
        raise ConfigError(f"--folds {folds} is more than the {n} training rows of {raw.name}; use 2..{n} folds")
    split = kfold_indices(n, folds, seed=cfg["seed"], stratify_labels=labels)

    run_dir = runs.new_run_dir(Path(runs_dir), cfg["name"])
    from nntrain.experiment import write_config

    write_config(run_dir, cfg)
    np.savez(run_dir / "folds.npz", **{f"fold_{i + 1}_{part}": raw.train.rows[idx]
                                       for i, (tr, va) in enumerate(split) for part, idx in (("train", tr), ("val", va))})
    info = runs.run_info(command)
    info.update(kind="kfold", config=str(Path(config_path).resolve()), config_dir=str(cfg.base_dir.resolve()),
                folds=folds, stratify=stratify, jobs=jobs, refit=refit)
    runs.write_json(run_dir / "run.json", info)
    if on_start is not None:
        on_start(run_dir, cfg)

    started = time.perf_counter()
    fold_jobs = [FoldJob(str(config_path), list(overrides), str(cfg.base_dir) if cfg.base is not None else None,
                         cfg["name"], i + 1, tr, va, str(run_dir / f"fold-{i + 1}"),
                         {"kind": "kfold-fold", "fold": i + 1, "folds": folds, "kfold_dir": str(run_dir.resolve()),
                          "command": command if command is not None else sys.argv})
                 for i, (tr, va) in enumerate(split)]
    interrupted = False
    results: dict[int, dict] = {}
    epochs = cfg["training"]["epochs"]
    if jobs == 1:
        try:
            with STOP.on_signals((signal.SIGINT,), raise_on_exit=True):
                for job in fold_jobs:
                    on_event({"type": "start", "fold": job.fold, "epochs": epochs})
                    results[job.fold] = train_run(cfg, raw, job.train_pos, job.val_pos, Path(job.run_dir), job.fold,
                                                  on_event, job.info)
                    if results[job.fold]["status"] == "interrupted":
                        break
        except KeyboardInterrupt:
            pass
        interrupted = len(results) < len(fold_jobs) or any(r["status"] == "interrupted" for r in results.values())
    else:
        results, interrupted = _run_parallel(fold_jobs, min(jobs, folds), epochs, on_event)
    ordered = [results[j.fold] if j.fold in results else
               {**_failed_result(j, "not run (interrupted)"), "status": "interrupted"} for j in fold_jobs]

    monitor, mode = _monitor(cfg)
    summary = summarize(ordered, monitor, mode)
    report = {
        "name": cfg["name"], "config": str(Path(config_path).resolve()), "folds": folds, "stratify": stratify,
        "seed": cfg["seed"], "rows": n, "monitor": monitor,
        "status": "interrupted" if interrupted else ("finished" if all(r["status"] == "finished" for r in ordered)
                                                     else "partial"),
        "per_fold": [{k: r.get(k) for k in ("fold", "status", "epochs", "final", "best", "message", "run_dir")}
                     for r in ordered],
        **summary,
        "notes": notes,
        "timing": {"jobs": jobs, "seconds": time.perf_counter() - started,
                   "fold_seconds": [r.get("seconds") for r in ordered]},
    }
    code, message = 0, ""
    failed = [r for r in ordered if r["status"] == "failed"]
    if interrupted:
        code, message = 130, "interrupted: finished folds are summarised; the others are marked interrupted"
    elif failed:
        code = 1
        message = "; ".join(f"fold {r['fold']} failed: {r['message']}" for r in failed)
    if refit and not interrupted:
        report["refit"] = _refit(cfg, raw, run_dir, summary, on_event, command)
        if report["refit"]["status"] == "interrupted":
            code, message = 130, "interrupted while refitting on all training rows"
        elif report["refit"]["status"] == "failed" and not code:
            code, message = 1, f"the refit failed: {report['refit']['message']}"
    runs.write_json(run_dir / "kfold.json", report)
    runs.atomic_write_text(run_dir / "kfold.csv", _csv(ordered, summary))
    info.update(status=report["status"], finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    runs.write_json(run_dir / "run.json", info)
    return KFoldResult(run_dir, report, code, message, ordered)


def _refit(cfg, raw, run_dir: Path, summary: dict, on_event, command) -> dict:
    """Train on every training row for the best averaged epoch count, then evaluate on the test split."""
    from nntrain.config import load_config

    best = summary.get("best_epoch")
    epochs = best["epoch"] if best else cfg["training"]["epochs"]
    refit_cfg = load_config(cfg.path, [*cfg.overrides, f"seed={cfg['seed']}", f"training.epochs={epochs}"],
                            base_dir=cfg.base)
    refit_cfg.resolved["name"] = cfg["name"]
    on_event({"type": "start", "fold": "refit", "epochs": epochs})
    everything = np.arange(len(raw.train), dtype=np.int64)
    try:
        with STOP.on_signals((signal.SIGINT,), raise_on_exit=True):
            result = train_run(refit_cfg, raw, everything, None, run_dir / "refit", "refit", on_event,
                               {"kind": "kfold-refit", "kfold_dir": str(run_dir.resolve()),
                                "command": command if command is not None else sys.argv}, drop_val_callbacks=True)
    except KeyboardInterrupt:
        result = {"status": "interrupted", "final": {}, "message": "interrupted"}
    out = {"status": result["status"], "epochs": epochs, "run_dir": "refit", "final": result["final"],
           "message": result["message"]}
    if result["status"] == "finished" and raw.test is not None:
        from nntrain.commands.evaluate import evaluate

        out["test"] = evaluate(run_dir / "refit", checkpoint="last", split="test").report["metrics"]
    return out
