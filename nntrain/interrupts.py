"""Ctrl-C (SIGINT) and SIGTERM: one policy for the whole `nntrain` process.

The first signal stops what is running. While a run trains, its StopRequest (training/loop.py) finishes the current
step and the run is recorded as interrupted; anywhere else the signal raises KeyboardInterrupt (Terminated for
SIGTERM), which every clean-up already handles, so a run folder without a checkpoint is removed and kfold still
writes kfold.json. Every later signal is ignored (a second one during a training step stops it at once): the process
is already on its way out, and a write of a checkpoint, run.json or kfold.json must not be cut short.

Exit codes follow the shell's convention: 130 after SIGINT, 143 after SIGTERM.
"""

from __future__ import annotations

import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []  # signals this process received since `install`, first first


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so every `except KeyboardInterrupt` handles both."""


def interrupt(signum: int | None) -> KeyboardInterrupt:
    """The exception a stop by `signum` raises: Terminated for SIGTERM, KeyboardInterrupt otherwise."""
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def exit_code(exc: BaseException | None = None) -> int:
    """143 after SIGTERM (a Terminated), 130 after Ctrl-C."""
    return 143 if isinstance(exc, Terminated) else 130


def note(signum: int) -> bool:
    """Record a received signal; True when it is the first."""
    _received.append(signum)
    return len(_received) == 1


def _raise_first(signum, frame) -> None:
    if note(signum):
        raise interrupt(signum)


def install() -> None:
    """Route SIGINT and SIGTERM through this policy (the CLI's first step). Without it SIGTERM would end the process
    at once, leaving a run folder marked running."""
    _received.clear()
    for sig in SIGNALS:
        signal.signal(sig, _raise_first)


def ignore() -> None:
    """Ignore both signals from now on: the process is exiting (a signal reset to its default action by Python's
    shutdown would otherwise kill it, with no exit code of its own)."""
    for sig in SIGNALS:
        try:
            signal.signal(sig, signal.SIG_IGN)
        except ValueError:  # not the main thread
            pass
