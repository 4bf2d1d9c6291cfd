"""Run folders under runs/: never reused, written file by file as training goes, each write atomic."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from nntrain import __version__
from nntrain.errors import NNTrainError


def new_run_dir(runs_dir: Path, name: str) -> Path:
    """runs/<name>, or runs/<name>-2, -3, ... when taken. Created atomically, so two runs never share one."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        path = runs_dir / (name if n == 1 else f"{name}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1


def temporary_path(path: Path) -> Path:
    """.<name>.<pid>.tmp beside `path`: written first, then renamed over `path`, so readers never see half a file."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically (see `temporary_path`)."""
    tmp = temporary_path(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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


def write_json(path: Path, obj) -> None:
    """`obj` as indented JSON (see `json_text`), atomically."""
    atomic_write_text(path, json_text(obj))


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
