"""One writer per run folder: `nntrain fit` holds runs/NAME/.lock while it writes the folder, so a second
`fit --resume` of the same run is refused, naming the process that holds it.

The lock is the operating system's (fcntl.flock on the file), so it ends with its holder however the holder ends,
SIGKILL included; the file left behind by a dead holder is stale and the next writer takes it over. The file's
content (process id, host, since, command) only says who holds it. Where the system has no flock (Windows, a file
system without locks), the file's existence is the lock, and a lock whose process no longer runs on this host is
stale.

    with RunLock() as lock:
        run_dir = lock.hold(runs_dir / "iris")   # RunLocked when another live process holds it
        ...                                      # released on every way out of the block
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from nntrain.errors import NNTrainError
from nntrain.runs.folder import process_alive, timestamp

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK_FILE = ".lock"
_NO_LOCKS = -1  # _locked_fd's answer on a file system that refuses flock


class RunLocked(NNTrainError):
    """Another live process writes this run folder."""


class RunLock:
    """Holds the lock of at most one run folder; a context manager that releases it on exit."""

    def __init__(self):
        self.run_dir: Path | None = None
        self._fd: int | None = None
        self.stale: dict | None = None  # what a dead holder had written, when its lock was taken over

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def hold(self, run_dir: Path) -> Path:
        """Take the lock of `run_dir` (an existing folder) and return the folder.

        Raises:
            RunLocked: a live process holds it.
        """
        run_dir = Path(run_dir)
        if self.run_dir is not None:
            if self.run_dir == run_dir:
                return run_dir
            raise RuntimeError(f"this lock already holds {self.run_dir}")
        path = run_dir / LOCK_FILE
        flock, removed = fcntl is not None, {}
        for _ in range(100):  # another process may remove a released lock file between our open and our lock
            try:
                fd = _locked_fd(path) if flock else _created_fd(path, removed)
            except OSError as exc:
                raise NNTrainError(f"{run_dir}: cannot write its lock file {LOCK_FILE} ({exc.strerror or exc}); "
                                   f"a run folder must be writable to train into it") from None
            if fd == _NO_LOCKS:
                flock, fd = False, None
            if fd is not None:
                break
        else:  # pragma: no cover - a hundred races in a row
            raise RunLocked(f"{run_dir}: could not take its lock {path}; try again")
        self.stale = _read(fd) or removed or None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(_holder()).encode())
        self.run_dir, self._fd = run_dir, fd
        return run_dir

    def release(self) -> None:
        """Remove the lock file and let go of the lock (nothing when none is held)."""
        if self._fd is None:
            return
        try:
            (self.run_dir / LOCK_FILE).unlink(missing_ok=True)  # removed while still held: no one takes a dead file
        except OSError:
            pass  # a folder gone or read-only: the OS lock ends with the descriptor anyway
        os.close(self._fd)
        self.run_dir, self._fd = None, None


def _holder() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": timestamp(), "command": sys.argv}


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        return json.loads(os.read(fd, 1 << 16).decode() or "{}")
    except (ValueError, UnicodeDecodeError):
        return {}


def _refused(path: Path, holder: dict) -> RunLocked:
    command = " ".join(map(str, holder.get("command") or [])) or "?"
    return RunLocked(f"{path.parent} is being written by process {holder.get('pid', '?')} on "
                     f"{holder.get('host', '?')} (since {holder.get('since', '?')}: {command}); one process writes "
                     f"a run at a time. Wait for it to end (Ctrl-C stops it and keeps its last checkpoint), then "
                     f"resume")


def _locked_fd(path: Path) -> int | None:
    """A descriptor of `path` holding its flock, or None to try again (the file was replaced meanwhile)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read(fd)
        os.close(fd)
        raise _refused(path, holder) from None
    except OSError:  # a file system without locks: the file's existence is the lock
        os.close(fd)
        return _NO_LOCKS
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        same = False
    if not same:  # its holder released (and removed) it between our open and our flock
        os.close(fd)
        return None
    return fd


def _created_fd(path: Path, removed: dict) -> int | None:
    """Without flock: a descriptor of a lock file this call created, or None to try again after removing a stale
    one (no holder written in it, or its process no longer runs on this host), whose holder goes into `removed`."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        pass
    try:
        holder = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        holder = {}
    if holder and (holder.get("host") != socket.gethostname() or process_alive(holder.get("pid"))):
        raise _refused(path, holder)
    path.unlink(missing_ok=True)
    removed.update(holder)
    return None
