"""`nntrain tune --jobs N`: N worker processes on one machine, each running trials against the same study.

Each worker is a spawned process that opens the study itself (its sampler seeded apart from the others, so they do
not propose the same values) and sends one event per finished trial through a queue. Ctrl-C reaches every process
of the terminal and the parent then sends SIGTERM: either only asks a worker to stop its trial at the next batch;
the trial is recorded as interrupted (failed, proposed again by --resume) and the worker exits. The parent kills
what still runs after a grace period.
"""

from __future__ import annotations

import os
import queue as queue_mod
import signal
import time

from nntrain import interrupts
from nntrain.commands.folds import GRACE_SECONDS, ignoring_signals, single_threaded_blas

SEED_STRIDE = 7919  # worker i's sampler seed is the search's + i * SEED_STRIDE


def _worker(session, index: int, deadline: float | None, events, parent: int) -> None:
    """Entry point of a worker process: trials until the search is done; what it says goes through `events`."""
    import numpy as np

    from nntrain.commands.tune import work
    from nntrain.training.loop import StopRequest

    stop = StopRequest()
    handle = stop.handler(insist=False)
    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    code, message = 1, ""
    try:
        with np.errstate(all="ignore"):
            study = session.open(session.extra.get("offset", 0) + index * SEED_STRIDE)
            left = None if deadline is None else deadline - time.time()
            code, message = work(session, study, stop, events.put, None if left is None else time.monotonic() + left,
                                 parent=parent)
    except KeyboardInterrupt:
        code, message = 130, "interrupted"
    except Exception as exc:  # noqa: BLE001 - reported by the parent as this worker's failure
        code, message = 1, f"{type(exc).__name__}: {exc}"
    events.put({"type": "worker", "index": index, "exit_code": code, "message": message})
    if os.getppid() != parent:
        events.cancel_join_thread()
    events.close()
    events.join_thread()


def run_workers(session, on_trial) -> tuple[int, str]:
    """Run `session.jobs` workers until the search is done. Returns (exit code, message): the first worker's
    failure, or 130/143 when a signal stopped them."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    deadline = time.time() + session.timeout if session.timeout else None
    procs = []
    ended: dict[int, dict] = {}
    try:
        for i in range(session.jobs):
            proc = ctx.Process(target=_worker, args=(session, i, deadline, events, os.getpid()),
                               name=f"nntrain-tune-{i}", daemon=True)
            with single_threaded_blas():
                proc.start()
            procs.append(proc)
        while len(ended) < len(procs):
            _drain(events, on_trial, ended, 0.2)
            for i, proc in enumerate(procs):
                if i not in ended and not proc.is_alive():
                    _drain(events, on_trial, ended, 0.5)
                    ended.setdefault(i, {"exit_code": 1, "message": f"worker {i} exited with code {proc.exitcode}"})
    except KeyboardInterrupt as exc:
        _stop_all(procs, events, ended)
        return interrupts.exit_code(exc), "interrupted: running trials are discarded; --resume runs them again"
    except BaseException:
        _stop_all(procs, events, ended)
        raise
    finally:
        events.close()
    for proc in procs:
        proc.join()
    bad = [e for e in ended.values() if e["exit_code"]]
    return (bad[0]["exit_code"], bad[0]["message"]) if bad else (0, "")


def _drain(events, on_trial, ended: dict, timeout: float, show: bool = True) -> None:
    try:
        event = events.get(timeout=timeout)
        while True:
            if event["type"] == "worker":
                ended[event["index"]] = event
            elif show:
                on_trial(event)
            event = events.get_nowait()
    except queue_mod.Empty:
        pass


def _stop_all(procs, events, ended: dict) -> None:
    """SIGTERM every worker (each records its trial as interrupted), read their last messages for a grace period,
    then kill what is left."""
    with ignoring_signals():
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
            try:
                _drain(events, None, ended, 0.1, show=False)
            except (OSError, EOFError):
                break
        for proc in procs:
            if proc.is_alive():
                proc.kill()
            proc.join()
