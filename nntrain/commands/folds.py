"""Training the folds of `nntrain kfold`: one fold through the one run function, here or in worker processes.

Workers are spawned processes that rebuild config and data themselves and report through one queue. Whatever
ends the parent's loop (all folds done, Ctrl-C, a closed stdout, any exception) stops every worker: SIGTERM asks
each to record its fold as interrupted and exit; the parent keeps reading the queue meanwhile (a worker blocked
writing its last message into a full pipe could not exit) and kills what is still alive after a grace period.
"""

from __future__ import annotations

import os
import queue as queue_mod
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain import interrupts, runs
from nntrain.commands.prepare import Rows
from nntrain.commands.recorder import NOT_METRICS
from nntrain.commands.session import train_run
from nntrain.errors import NNTrainError
from nntrain.training.callbacks import Callback
from nntrain.training.loop import StopRequest

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
GRACE_SECONDS = 10.0

# One stop request per process: Ctrl-C / SIGTERM stop the fold being trained at its next batch.
STOP = StopRequest()


class _Events(Callback):
    """Sends one event per epoch to `emit` (the display, or the queue to the parent process)."""

    def __init__(self, emit, fold):
        self.emit, self.fold = emit, fold

    def on_epoch_end(self, epoch, logs):
        self.emit({"type": "epoch", "fold": self.fold, "epoch": epoch + 1, "epochs": self.trainer.epochs,
                   "logs": {k: float(v) for k, v in logs.items() if k != "seconds"}})


def failed_result(fold, run_dir: Path, message: str, status: str = "failed") -> dict:
    return {"fold": fold, "status": status, "epochs": 0, "final": {}, "best": {}, "history": {}, "message": message,
            "run_dir": Path(run_dir).name}


def train_fold(cfg, raw, train_pos, val_pos, run_dir: Path, fold, emit=None, info_extra: dict | None = None,
               callbacks=()) -> dict:
    """Train one model on rows `train_pos` of raw.train (validating on `val_pos`, or on nothing when None) into
    the normal run folder `run_dir`.

    Returns:
        {fold, status (finished | failed | interrupted), epochs, final, best, history, message, run_dir, seconds}.
        A fold that cannot start, or whose training raises, is "failed" and the others go on; a closed output
        (BrokenPipeError) ends the whole k-fold.
    """
    start = time.perf_counter()
    emit = emit or (lambda event: None)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise runs.storage_error(exc, run_dir) from None
    info = {**runs.run_info(), **(info_extra or {}), "config_dir": str(cfg.base_dir.resolve()), "pid": os.getpid()}
    try:
        run = train_run(cfg, lambda cfg: run_dir, info, rows=Rows(raw, train_pos, val_pos),
                        callbacks=[_Events(emit, fold), *callbacks], stop=STOP)
    except Exception as exc:  # a fold that cannot start is reported like one that fails while training
        message = str(exc) if isinstance(exc, NNTrainError) else f"{type(exc).__name__}: {exc}"
        info.update(status="failed", finished=runs.timestamp(), stop_reason=message)
        runs.write_json(run_dir / "run.json", info)
        result = {**failed_result(fold, run_dir, message), "seconds": time.perf_counter() - start}
    else:
        if isinstance(run.error, BrokenPipeError):
            raise run.error
        result = {"fold": fold, "status": run.status, "epochs": run.epochs, "message": run.message,
                  "history": run.history, "final": {k: v for k, v in run.final.items() if k not in NOT_METRICS},
                  "best": run.best, "run_dir": run_dir.name, "seconds": run.seconds}
    emit({"type": "end", "fold": fold, "status": result["status"], "epochs": result["epochs"],
          "final": result["final"], "message": result["message"]})
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


class _ParentWatch(Callback):
    """Stops the fold when the parent process is gone (killed): an orphaned worker must not train on."""

    def __init__(self, parent: int):
        self.parent = parent

    def on_train_batch_end(self, step):
        if step % 32 == 0 and os.getppid() != self.parent:
            STOP.requested = True


def _worker(job: FoldJob, events, parent: int) -> None:
    """Entry point of a worker process: one fold; everything it says goes through `events`."""
    # Ctrl-C reaches every process of the terminal, and the parent then sends SIGTERM: both only ask the fold to
    # stop at the next batch (the parent kills a worker that does not stop within seconds)
    handle = STOP.handler(insist=False)
    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    emit = events.put
    try:
        with np.errstate(all="ignore"):  # what a warning would say, the fold's result says (no source lines)
            cfg, raw = _load(job)
            result = train_fold(cfg, raw, job.train_pos, job.val_pos, Path(job.run_dir), job.fold, emit, job.info,
                                callbacks=[_ParentWatch(parent)])
    except KeyboardInterrupt:  # before its run began (train_run records one that began: session._setting_up)
        result = failed_result(job.fold, job.run_dir, "interrupted", "interrupted")
    except Exception as exc:  # reported as this fold's failure; the parent goes on with the others
        result = failed_result(job.fold, job.run_dir, f"{type(exc).__name__}: {exc}")
    emit({"type": "done", "fold": job.fold, "result": result})
    if os.getppid() != parent:  # nobody will read the queue: do not wait to flush it
        events.cancel_join_thread()
    events.close()
    events.join_thread()
    if result["status"] == "interrupted":
        raise SystemExit(130)


@contextmanager
def single_threaded_blas():
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


@contextmanager
def ignoring_signals():
    """A Ctrl-C or SIGTERM while the workers are being stopped would leave them running: ignore both meanwhile."""
    old = {}
    for sig in interrupts.SIGNALS:
        try:
            old[sig] = signal.signal(sig, signal.SIG_IGN)
        except ValueError:  # not the main thread: nothing to protect
            pass
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


class _Pool:
    """Up to `jobs` worker processes, one fold each, and the queue they report through."""

    def __init__(self, jobs: int, on_event):
        import multiprocessing as mp

        self.ctx = mp.get_context("spawn")
        self.events = self.ctx.Queue()
        self.jobs, self.on_event = jobs, on_event
        self.running: dict[int, tuple] = {}
        self.results: dict[int, dict] = {}

    def start(self, job: FoldJob, epochs: int) -> None:
        proc = self.ctx.Process(target=_worker, args=(job, self.events, os.getpid()), name=f"nntrain-fold-{job.fold}",
                                daemon=True)
        with single_threaded_blas():
            proc.start()
        self.running[job.fold] = (proc, job)
        self.on_event({"type": "start", "fold": job.fold, "epochs": epochs})

    def drain(self, timeout: float, show: bool = True) -> None:
        """Read every waiting message (waiting up to `timeout` for the first); `show`: pass progress on."""
        try:
            event = self.events.get(timeout=timeout)
            while True:
                if event["type"] == "done":
                    self.results[event["fold"]] = event["result"]
                elif show:
                    self.on_event(event)
                event = self.events.get_nowait()
        except queue_mod.Empty:
            pass

    def reap(self) -> None:
        """Forget workers that are done; a worker that died without a result is its fold's failure."""
        for fold, (proc, job) in list(self.running.items()):
            if fold in self.results:
                proc.join()
                del self.running[fold]
            elif not proc.is_alive():
                self.drain(0.5)  # its last messages may still be in the pipe
                if fold not in self.results:
                    self.results[fold] = failed_result(fold, job.run_dir,
                                                       f"the worker process exited with code {proc.exitcode}")
                    self.on_event({"type": "end", "fold": fold, "status": "failed", "epochs": 0, "final": {},
                                   "message": self.results[fold]["message"]})
                del self.running[fold]

    def stop_all(self) -> None:
        """SIGTERM every worker (each records its fold as interrupted), read their last messages for a grace
        period, then kill what is left. Nothing is shown: the display may be what failed."""
        with ignoring_signals():
            for proc, _ in self.running.values():
                if proc.is_alive():
                    proc.terminate()
            deadline = time.monotonic() + GRACE_SECONDS
            while any(p.is_alive() for p, _ in self.running.values()) and time.monotonic() < deadline:
                try:
                    self.drain(0.1, show=False)
                except (OSError, EOFError):
                    break
            for proc, job in self.running.values():
                if proc.is_alive():
                    proc.kill()
                    proc.join()
                    runs.mark_unfinished(Path(job.run_dir), proc.pid, "interrupted",
                                    f"the worker did not stop within {GRACE_SECONDS:.0f} s and was killed")
                proc.join()
            try:
                self.drain(0.1, show=False)
            except (OSError, EOFError):
                pass
            self.running.clear()


def run_parallel(jobs_list: list[FoldJob], jobs: int, epochs: int, on_event) -> tuple[dict, int]:
    """Run folds in up to `jobs` spawned processes. Returns ({fold: result}, 0 or the exit code of the signal that
    interrupted them).

    Ctrl-C or SIGTERM (nntrain.interrupts) returns what finished, with 130 or 143; any other exception (a closed
    stdout in the display, a bug) is raised again once every worker has ended.
    """
    pool = _Pool(jobs, on_event)
    pending = list(jobs_list)
    try:
        while pending or pool.running:
            while pending and len(pool.running) < jobs:
                pool.start(pending.pop(0), epochs)
            pool.drain(0.1)
            pool.reap()
        return pool.results, 0
    except KeyboardInterrupt as exc:
        pool.stop_all()
        return pool.results, interrupts.exit_code(exc)
    except BaseException:
        pool.stop_all()
        raise
    finally:
        pool.events.close()
