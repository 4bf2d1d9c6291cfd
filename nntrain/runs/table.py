"""`nntrain runs`: one row per run folder under runs/, read from the files each run leaves behind.

A row holds the folder name, start date, dataset, parameter count (summary.txt), epochs, status (run.json) and the
metrics of one epoch, each under its own name (val_loss, val_accuracy, test_mae...): the epoch whose weights
restore_best_weights kept, else the one best.h5 holds (what `nntrain evaluate` and `predict` use by default), else
the last. test_ values come from the newest `nntrain evaluate` of the test split. A k-fold folder is one row: the
mean over its folds of each value's best, and its refit's test values.
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
        epochs: epochs trained; epoch: the epoch `metrics` are of (None: a k-fold mean, or an old run folder whose
            metrics.json has only per-key bests); restored: whether restore_best_weights kept that epoch.
        metrics: name -> value: every logged loss and metric (val_ ones included) and test_ ones.
        main: the run's main metric (its first configured one, else "loss").
    """

    name: str
    path: Path
    kind: str = "run"
    date: str = ""
    dataset: str = ""
    params: int | None = None
    epochs: int | None = None
    status: str = "unknown"
    epoch: int | None = None
    restored: bool = False
    metrics: dict = field(default_factory=dict)
    main: str = "loss"

    def as_dict(self) -> dict:
        """The row as `nntrain runs --json` prints it."""
        return {"name": self.name, "path": str(self.path), "kind": self.kind, "date": self.date,
                "dataset": self.dataset, "params": self.params, "epochs": self.epochs, "status": self.status,
                "epoch": self.epoch, "restored_best_weights": self.restored, "metrics": self.metrics}


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


def _main_metric(config: dict) -> str:
    """The first configured metric (by the name it is logged under), else the loss."""
    metrics = config.get("metrics") or []
    if isinstance(metrics, dict):
        metrics = next(iter(metrics.values()), [])
    for m in metrics:
        name = m.get("name") if isinstance(m, dict) else m
        if isinstance(name, str):
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


def _reported(metrics: dict) -> tuple[int | None, dict, bool]:
    """(epoch, its values, restored) of a metrics.json: the kept epoch when restore_best_weights put it back, else
    best.h5's epoch, else the last; a metrics.json from before those entries: each value's best."""
    kept, best = metrics.get("kept") or {}, metrics.get("best_epoch") or {}
    if kept.get("restored_best_weights"):
        return kept.get("epoch"), dict(kept.get("metrics") or {}), True
    if best.get("metrics") is not None:
        return best.get("epoch"), dict(best["metrics"]), False
    if kept:
        return kept.get("epoch"), dict(kept.get("metrics") or {}), False
    return None, {k: v.get("value") for k, v in (metrics.get("best") or {}).items() if isinstance(v, dict)}, False


def _kfold_row(row: RunRow, folder: Path) -> RunRow:
    report = read_json(folder / "kfold.json")
    row.kind = f"kfold x{report.get('folds')}"
    row.status = str(report.get("status") or row.status)
    row.params = _params(folder / "fold-1")
    row.metrics = {k: v.get("best_mean") for k, v in (report.get("metrics") or {}).items()}
    epochs = [f.get("epochs") for f in report.get("per_fold", []) if f.get("epochs")]
    row.epochs = max(epochs) if epochs else None
    row.metrics.update({f"test_{k}": v for k, v in ((report.get("refit") or {}).get("test") or {}).items()})
    return row


def read_run(folder: Path, root: Path) -> RunRow | None:
    """The row of one run or k-fold folder; None for a folder that is neither."""
    name = str(folder.relative_to(root))
    info = _json(folder / "run.json")
    config = _config(folder)
    row = RunRow(name, folder, date=str(info.get("started") or "")[:16].replace("T", " "),
                 dataset=_dataset(config), status=_status(info), main=_main_metric(config))
    if (folder / "kfold.json").exists():
        return _kfold_row(row, folder)
    if not (folder / "config.yaml").exists() or not (folder / "run.json").exists():
        return None
    metrics = _json(folder / "metrics.json")
    row.params = _params(folder)
    row.epochs = metrics.get("epochs")
    row.epoch, row.metrics, row.restored = _reported(metrics)
    row.metrics.update({f"test_{k}": v for k, v in _test_metrics(folder).items()})
    return row


def columns(rows: list[RunRow], sort: str | None = None) -> list[str]:
    """The metric columns of a table of `rows`: val_loss and each run's main metric on validation, the training
    ones too when some run had no validation set, the test ones after `nntrain evaluate`, and the sort key."""
    mains = list(dict.fromkeys(r.main for r in rows))
    wanted = ["val_loss"] + [f"val_{m}" for m in mains]
    if any(not any(k.startswith("val_") for k in r.metrics) for r in rows):
        wanted += ["loss", *mains]
    wanted += ["test_loss"] + [f"test_{m}" for m in mains]
    if sort and sort not in SORT_FIELDS:
        wanted.append(sort)
    return [c for c in dict.fromkeys(wanted) if any(_value(r.metrics.get(c)) is not None for r in rows)]


def list_runs(runs_dir="runs", sort: str | None = None) -> list[RunRow]:
    """Every run and k-fold folder directly under `runs_dir` (the folds of a k-fold folder are not listed).

    Args:
        sort: "date" (default, newest first), "name", "params", "epochs", "status", "dataset", or any metric a run
            reports ("val_accuracy", "val_loss", "test_accuracy", "loss"...): best first (lowest for losses and
            errors); runs without that metric come last.

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
    known = [r for r in rows if _value(r.metrics.get(sort)) is not None]
    if rows and not known:
        seen = sorted({k for r in rows for k in r.metrics})
        raise DataError(f"--sort {sort!r}: no run logged that metric; sort by one of {', '.join(SORT_FIELDS)} or "
                        f"a metric: {', '.join(seen)}")
    sign = -1 if monitor_rule.direction(sort.removeprefix("test_")) == monitor_rule.UP else 1
    missing = [r for r in rows if _value(r.metrics.get(sort)) is None]
    return sorted(known, key=lambda r: sign * _value(r.metrics[sort])) + missing
