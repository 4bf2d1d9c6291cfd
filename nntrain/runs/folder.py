"""Run folders under runs/: never reused, written file by file as training goes, each write atomic."""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import platform
import re
import shutil
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

from nntrain import __version__
from nntrain.errors import ConfigError, NNTrainError, StorageError

MAX_NAME = 100  # characters, and twice that in UTF-8 bytes: with a -N suffix far below a file name's 255 bytes


def name_problem(name) -> str | None:
    """Why `name` cannot name a run folder, or None when it can.

    The one rule for `--name`, `name:` and `--set name=`: the run folder is always a direct child of the runs
    folder, so a name holds no path separator and no `..`, does not start with `.` (hidden, or `.`/`..`
    themselves), has only printable characters (no NUL, tab, newline) and at most MAX_NAME of them.
    """
    if not isinstance(name, str) or not name.strip():
        return f"a run name must be a non-empty string, got {name!r}"
    if len(name) > MAX_NAME or len(name.encode("utf-8", "replace")) > 2 * MAX_NAME:
        return f"a run name has at most {MAX_NAME} characters ({2 * MAX_NAME} bytes), got {name[:20]!r}..."
    if not name.isprintable():
        return f"a run name has only printable characters (no NUL, tab or newline), got {name!r}"
    if "/" in name or "\\" in name:
        return f"a run name cannot hold a path separator ('/' or '\\'), got {name!r}: the folder is RUNS_DIR/NAME"
    if ".." in name or name.startswith("."):
        return f"a run name cannot hold '..' or start with '.', got {name!r}"
    return None


def check_run_name(name, source: str = "--name") -> str:
    """`name` when `name_problem` finds nothing; ConfigError naming `source` (where the name came from) otherwise."""
    problem = name_problem(name)
    if problem is not None:
        raise ConfigError(f"{source}: {problem}")
    return name


_HINTS = {errno.ENOSPC: "the disk is full; free some space or write to another disk",
          errno.EDQUOT: "the disk quota is used up", errno.EACCES: "no permission to write there",
          errno.EPERM: "no permission to write there", errno.EROFS: "the file system is read-only",
          errno.ENAMETOOLONG: "the file name is too long"}


def storage_error(exc: BaseException, path: Path) -> StorageError:
    """A failed write (an OSError, or h5py's RuntimeError naming the errno) as one readable StorageError."""
    if isinstance(exc, StorageError):
        return exc
    code = getattr(exc, "errno", None)
    if code is None:  # h5py reports HDF5's failed writes as "..., errno = 28, error message = ..."
        found = re.search(r"errno = (\d+)", str(exc))
        code = int(found.group(1)) if found else None
    reason = _HINTS.get(code) or getattr(exc, "strerror", None) or str(exc).splitlines()[0]
    error = StorageError(f"cannot write {path}: {reason}")
    error.errno = code
    return error


def free_space(folder: Path) -> int | None:
    """Bytes free on the disk of `folder` (for this user), or None when the system cannot tell."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """StorageError when the disk of `folder` is known to have less than `needed` bytes free for `what`."""
    free = free_space(folder)
    if free is not None and free < needed:
        error = StorageError(f"cannot write {what}: it needs about {_size(needed)} and the disk of {folder} has "
                             f"{_size(free)} free; free some space or give --runs-dir on another disk")
        error.errno = errno.ENOSPC
        raise error


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def new_run_dir(runs_dir: Path, name: str) -> Path:
    """runs/<name>, or runs/<name>-2, -3, ... when taken. Created atomically, so two runs never share one.

    Raises:
        ConfigError: a name `name_problem` refuses (the folder would not be a direct child of `runs_dir`).
    """
    check_run_name(name, "run name")
    runs_dir = Path(runs_dir)
    n = 1
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        while True:
            path = runs_dir / (name if n == 1 else f"{name}-{n}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                n += 1
    except OSError as exc:
        raise storage_error(exc, runs_dir / name) from None


def temporary_path(path: Path) -> Path:
    """.<name>.<pid>.tmp beside `path`: written first, then renamed over `path`, so readers never see half a file."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextmanager
def atomic_file(path: Path):
    """Yields the temporary path to write `path` through; renamed over `path` when the block ends. A failure
    removes the temporary file, leaves `path` as it was and raises StorageError (or what the block raised)."""
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise storage_error(exc, path) from None
    finally:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically (see `temporary_path`)."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_npz(path: Path, arrays: dict) -> None:
    """np.savez of `arrays` to `path`, atomically."""
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serializable: {type(o).__name__}")


def _clean(o):
    # JSON has no NaN/inf: write null for them
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def json_text(obj) -> str:
    """`obj` as indented JSON text ending in a newline; NumPy values become plain ones, NaN and infinities null."""
    return json.dumps(_clean(obj), indent=2, default=_json_default) + "\n"


def write_json(path: Path, obj, atomic: bool = True) -> None:
    """`obj` as indented JSON (see `json_text`), atomically.

    atomic=False rewrites the file in place: the last resort on a disk with no room for a new file (a small file
    reuses its own blocks), where a stale run.json would say "running" forever.
    """
    text = json_text(obj)
    if atomic:
        atomic_write_text(path, text)
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise storage_error(exc, path) from None


def read_json(path: Path) -> dict:
    """A JSON file of a run folder; NNTrainError naming the file when it is missing or not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise NNTrainError(f"{path}: cannot read ({exc})") from None


def write_history_csv(path: Path, history) -> None:
    """One row per epoch: epoch, every loss and metric, val_ ones, learning rate, seconds."""
    rows = history.rows()
    keys = ["epoch"] + [k for k in history.history]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(keys)
    for row in rows:
        w.writerow([row["epoch"]] + [_fmt(row.get(k)) for k in keys[1:]])
    atomic_write_text(path, buf.getvalue())


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(float(v))


def read_history_csv(path: Path) -> dict[str, list[float]]:
    """history.csv back as column -> values per epoch (empty cells NaN); {} for a header without rows."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {k: [float(r[k]) if r[k] not in ("", None) else math.nan for r in rows] for k in rows[0]}


def blas_info() -> dict:
    """BLAS library name and thread setting, for run.json."""
    info = {"library": "unknown", "threads": None}
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["library"] = f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    except Exception:  # numpy builds differ in what they report; this is informational only
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            info["threads"] = int(os.environ[var]) if os.environ[var].isdigit() else os.environ[var]
            info["threads_from"] = var
            break
    else:
        info["threads"] = os.cpu_count()
        info["threads_from"] = "default (one per core)"
    return info


def process_alive(pid) -> bool:
    """Whether a process with this id still runs on this machine (a `running` run whose process is gone
    was killed)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")  # temporary_path's names: .last.h5.12345.tmp
# what a run folder holds before its first checkpoint (hidden files aside)
_BEFORE_FIRST_CHECKPOINT = {"config.yaml", "summary.txt", "splits.npz", "run.json", "checkpoints"}


def _run_folders(root: Path) -> list[Path]:
    """`root` and the folders under it that are runs (they hold run.json), with a k-fold folder's folds and refit."""
    if not root.is_dir():
        return []
    found = []
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        if (folder / "run.json").is_file():
            found.append(folder)
            found += sorted(p for p in folder.iterdir() if p.is_dir() and (p / "run.json").is_file())
    return list(dict.fromkeys(found))


def stale_temporaries(root: Path) -> list[Path]:
    """Temporary files (see `temporary_path`) of the run folders at and under `root` whose writing process is gone:
    a writer killed mid-write never renames or removes its file. Called where no write of this process is under
    way; nothing outside run folders is looked at."""
    found = []
    for folder in _run_folders(Path(root)):
        for p in [*folder.glob(".*.tmp"), *(folder / "checkpoints").glob(".*.tmp")]:
            m = _TEMPORARY.match(p.name)
            if m and p.is_file() and (int(m.group(1)) == os.getpid() or not process_alive(int(m.group(1)))):
                found.append(p)
    return found


def remove_stale_temporaries(root: Path) -> list[Path]:
    """Delete `stale_temporaries(root)`; returns those removed."""
    removed = []
    for p in stale_temporaries(root):
        with suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


def never_trained(folder: Path) -> bool:
    """A run folder whose run never wrote a checkpoint and whose process is gone (killed, or stopped while being
    set up): nothing in it can be resumed or evaluated. A folder holding anything else is never one."""
    try:
        names = {p.name for p in folder.iterdir() if not p.name.startswith(".")}
        checkpoints = folder / "checkpoints"
        if checkpoints.is_dir() and any(p.suffix == ".h5" for p in checkpoints.iterdir()):
            return False
        if not names:  # a folder left between its creation and its first file
            return time.time() - folder.stat().st_mtime > 60
        info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(info, dict) or info.get("kind") == "kfold" or not names <= _BEFORE_FIRST_CHECKPOINT:
        return False
    return not (info.get("status") == "running" and process_alive(info.get("pid")))


def clean(runs_dir: Path) -> list[Path]:
    """`nntrain runs --clean`: remove stale temporary files and the run folders that never got a checkpoint (see
    `never_trained`). Returns what was removed."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise NNTrainError(f"{root}: no such runs folder")
    removed = remove_stale_temporaries(root)
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if never_trained(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def timestamp() -> str:
    """Local time as run.json records it: ISO 8601 with the UTC offset."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def run_info(command: list[str] | None = None) -> dict:
    """The first run.json of a run: versions, machine, command, process id, start time, status "running"."""
    return {
        "nntrain_version": __version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "blas": blas_info(),
        "command": command if command is not None else sys.argv,
        "pid": os.getpid(),
        "started": timestamp(),
        "finished": None,
        "status": "running",
    }


def mark_unfinished(run_dir: Path, pid: int, status: str, reason: str) -> None:
    """A run.json that still says "running" for process `pid`, which will never record how its run ended (it was
    killed, or failed before training began), gets `status` and `reason`, so the run never looks as if it still
    ran. Another process's run, a recorded end, and a missing or unreadable run.json are left as they are."""
    with suppress(NNTrainError):
        info = read_json(Path(run_dir) / "run.json")
        if info.get("status") == "running" and info.get("pid") == pid:
            info.update(status=status, finished=timestamp(), stop_reason=reason)
            write_json(Path(run_dir) / "run.json", info)
