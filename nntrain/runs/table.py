"""`nntrain runs`: one row per run folder under runs/, read from the files each run leaves behind.

A row holds the folder name, start date, dataset, parameter count (summary.txt), epochs, the best validation value
of the run's main metric, the test value when `nntrain evaluate` has been run, and the status in run.json. A k-fold
folder is one row: its mean over folds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from nntrain.errors import DataError, NNTrainError
from nntrain.runs.folder import process_alive, read_json

SORT_FIELDS = ("name", "date", "dataset", "params", "epochs", "status")


@dataclass
class RunRow:
    """One run folder.

    Attributes:
        metric: the key `best_val` and `test` report (e.g. val_accuracy / accuracy), or "".
        best: best value per history key (metrics.json), for sorting by any metric.
        test_metrics: the metrics of the latest test-split evaluation, if any.
    """

    name: str
    path: Path
    kind: str = "run"
    date: str = ""
    dataset: str = ""
    params: int | None = None
    epochs: int | None = None
    metric: str = ""
    best_val: float | None = None
    test: float | None = None
    status: str = "unknown"
    best: dict = field(default_factory=dict)
    test_metrics: dict = field(default_factory=dict)


def _status(info: dict) -> str:
    status = str(info.get("status") or "unknown")
    if status == "running" and "pid" in info and not process_alive(info["pid"]):
        return "killed"  # the process ended without saying how: kill -9, power loss
    return status


def _params(folder: Path) -> int | None:
    path = folder / "summary.txt"
    if not path.exists():
        return None
    found = re.search(r"Total params:\s*([\d,]+)", path.read_text(encoding="utf-8", errors="replace"))
    return int(found.group(1).replace(",", "")) if found else None


def _config(folder: Path) -> dict:
    import yaml

    try:
        tree = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return tree if isinstance(tree, dict) else {}


def _dataset(config: dict) -> str:
    data = config.get("data") or {}
    if data.get("dataset"):
        return str(data["dataset"])
    return Path(str(data["train"])).name if data.get("train") else ""


def _main_metric(config: dict, keys) -> str:
    """The first configured metric (as logged), else the loss."""
    metrics = config.get("metrics") or []
    if isinstance(metrics, dict):
        metrics = next(iter(metrics.values()), [])
    for m in metrics:
        name = m.get("name") if isinstance(m, dict) else m
        if isinstance(name, str) and f"val_{name}" in keys:
            return name
    return "loss"


def _json(path: Path) -> dict:
    """A run file's JSON, or {} when it is missing or unreadable: the row shows what the other files say."""
    if not path.exists():
        return {}
    try:
        return read_json(path)
    except NNTrainError:
        return {}


def _test_metrics(folder: Path) -> dict:
    """Metrics of the newest test-split evaluation (best checkpoint preferred)."""
    for name in ("evaluation-test-best.json", "evaluation-test-last.json"):
        if (folder / name).exists():
            return _json(folder / name).get("metrics") or {}
    return {}


def _value(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def read_run(folder: Path, root: Path) -> RunRow | None:
    """The row of one run or k-fold folder; None for a folder that is neither."""
    name = str(folder.relative_to(root))
    info = _json(folder / "run.json")
    config = _config(folder)
    row = RunRow(name, folder, date=str(info.get("started") or "")[:16].replace("T", " "),
                 dataset=_dataset(config), status=_status(info))
    if (folder / "kfold.json").exists():
        report = read_json(folder / "kfold.json")
        row.kind = f"kfold x{report.get('folds')}"
        row.status = str(report.get("status") or row.status)
        row.params = _params(folder / "fold-1")
        summary = report.get("metrics") or {}
        row.metric = _main_metric(config, summary)
        row.best = {k: v.get("best_mean") for k, v in summary.items()}
        row.best_val = _value(row.best.get(f"val_{row.metric}"))
        epochs = [f.get("epochs") for f in report.get("per_fold", []) if f.get("epochs")]
        row.epochs = max(epochs) if epochs else None
        row.test_metrics = (report.get("refit") or {}).get("test") or {}
        row.test = _value(row.test_metrics.get(row.metric))
        return row
    if not (folder / "config.yaml").exists() or not (folder / "run.json").exists():
        return None
    metrics = _json(folder / "metrics.json")
    row.params = _params(folder)
    row.epochs = metrics.get("epochs")
    row.best = {k: v.get("value") for k, v in (metrics.get("best") or {}).items()}
    row.metric = _main_metric(config, row.best)
    row.best_val = _value(row.best.get(f"val_{row.metric}"))
    row.test_metrics = _test_metrics(folder)
    row.test = _value(row.test_metrics.get(row.metric))
    return row


def list_runs(runs_dir="runs", sort: str | None = None) -> list[RunRow]:
    """Every run and k-fold folder directly under `runs_dir` (the folds of a k-fold folder are not listed).

    Args:
        sort: "date" (default, newest first), "name", "params", "epochs", "status", "dataset", or a logged metric
            ("val_accuracy", "val_loss", "test_accuracy", ...): best first (lowest for losses and errors); runs
            without that metric come last.

    Raises:
        DataError: `runs_dir` does not exist; a sort key that no run has.
    """
    from nntrain.engine import monitor as monitor_rule

    root = Path(runs_dir)
    if not root.is_dir():
        raise DataError(f"{root}: no such runs folder; train something first (`nntrain fit CONFIG`) or give the "
                        f"folder the runs are in")
    rows = [r for r in (read_run(p, root) for p in sorted(root.iterdir()) if p.is_dir()) if r is not None]
    sort = sort or "date"
    if sort in SORT_FIELDS:
        key = {"params": lambda r: r.params or 0, "epochs": lambda r: r.epochs or 0}.get(
            sort, lambda r: getattr(r, sort) or "")
        return sorted(rows, key=key, reverse=sort in ("date", "params", "epochs"))

    def value(r: RunRow):
        if sort.startswith("test_"):
            return _value(r.test_metrics.get(sort[5:]))
        return _value(r.best.get(sort))

    known = [r for r in rows if value(r) is not None]
    if rows and not known:
        seen = sorted({k for r in rows for k in r.best} | {f"test_{k}" for r in rows for k in r.test_metrics})
        raise DataError(f"--sort {sort!r}: no run logged that metric; sort by one of {', '.join(SORT_FIELDS)} or "
                        f"a metric: {', '.join(seen)}")
    sign = -1 if monitor_rule.direction(sort.removeprefix("test_")) == monitor_rule.UP else 1
    return sorted(known, key=lambda r: sign * value(r)) + [r for r in rows if value(r) is None]
