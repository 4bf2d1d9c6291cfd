"""`nntrain plot`: PNG charts of a run folder, drawn with matplotlib's Agg backend (no display needed).

    curve-<metric>.png        each loss and metric per epoch, training vs validation (history.csv)
    learning-rate.png         the learning rate per epoch, when it changed during training
    kfold-<metric>.png        a k-fold folder: the per-epoch curve averaged over folds, each fold thin, +-1 std band
    confusion-<split>-<checkpoint>[-<output>].png   after `nntrain evaluate` on a classification model
    plots/*.png               a `nntrain tune` folder: Optuna's charts of its study (commands/study.py)
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from nntrain.errors import DataError, NNTrainError
from nntrain.runs.folder import atomic_file, read_history_csv, read_json

SIZE = (6.4, 4.2)  # inches; at DPI that is 640 x 420 pixels
DPI = 100


class PlotError(NNTrainError):
    """Plotting is not possible (matplotlib missing, nothing to plot)."""


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PlotError("plotting needs matplotlib, which is not installed: pip install 'nntrain[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _finite(values: list[float]) -> bool:
    return any(isinstance(v, float) and math.isfinite(v) for v in values)


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    try:
        with atomic_file(path) as tmp:  # a full disk leaves no half-written PNG
            fig.savefig(tmp, dpi=DPI, format="png")
    finally:
        plt.close(fig)
    return path


def learning_curves(history: dict[str, list[float]], folder: Path, title: str) -> list[Path]:
    """One chart per loss/metric: training and (when logged) validation values per epoch."""
    plt = _pyplot()
    epochs = history.get("epoch") or list(range(1, len(next(iter(history.values()), [])) + 1))
    written = []
    bases = [k for k in history if k not in ("epoch", "seconds", "learning_rate") and not k.startswith("val_")]
    bases += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    for key in bases:
        fig, ax = plt.subplots(figsize=SIZE)
        for name, label in ((key, "training"), (f"val_{key}", "validation")):
            if name in history and _finite(history[name]):
                ax.plot(epochs, history[name], marker="o" if len(epochs) < 30 else None, markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(f"{title}: {key}")
        ax.grid(alpha=0.3)
        ax.legend()
        written.append(_save(fig, folder / f"curve-{_safe(key)}.png"))
    lr = history.get("learning_rate") or []
    if _finite(lr) and len({v for v in lr if math.isfinite(v)}) > 1:
        fig, ax = plt.subplots(figsize=SIZE)
        ax.plot(epochs, lr)
        ax.set_xlabel("epoch")
        ax.set_ylabel("learning rate")
        if min(v for v in lr if math.isfinite(v)) > 0:
            ax.set_yscale("log")
        ax.set_title(f"{title}: learning rate")
        ax.grid(alpha=0.3)
        written.append(_save(fig, folder / "learning-rate.png"))
    return written


def kfold_curves(folder: Path, report: dict) -> list[Path]:
    """Per metric: each fold's curve (thin), the average over folds (thick) with a +-1 std band, and the best
    averaged epoch marked."""
    import numpy as np

    plt = _pyplot()
    written = []
    best = report.get("best_epoch") or {}
    folds = [f for f in report.get("per_fold", []) if f.get("status") == "finished"]
    histories = {}
    for f in folds:
        path = folder / f["run_dir"] / "history.csv"
        if path.exists():
            histories[f["fold"]] = read_history_csv(path)
    for key, curve in (report.get("curves") or {}).items():
        mean = np.asarray([math.nan if v is None else v for v in curve["mean"]], float)
        if not np.isfinite(mean).any():
            continue
        std = np.asarray([math.nan if v is None else v for v in curve["std"]], float)
        x = np.arange(1, len(mean) + 1)
        fig, ax = plt.subplots(figsize=SIZE)
        for fold, h in histories.items():
            if key in h:
                ax.plot(range(1, len(h[key]) + 1), h[key], linewidth=0.8, alpha=0.5, label=f"fold {fold}")
        ax.plot(x, mean, color="black", linewidth=2, label="mean over folds")
        ax.fill_between(x, mean - std, mean + std, color="grey", alpha=0.25, label="+-1 std")
        if best.get("monitor") == key:
            ax.axvline(best["epoch"], color="red", linestyle="--", linewidth=1, label=f"best epoch {best['epoch']}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(f"{report.get('name', folder.name)}: {key}, {report.get('folds', len(folds))}-fold")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        written.append(_save(fig, folder / f"kfold-{_safe(key)}.png"))
    return written


def confusion_matrix(matrix: list[list[int]], class_names: list[str], path: Path, title: str) -> Path:
    """A confusion matrix (rows: true class, columns: predicted), counts written in the cells."""
    import numpy as np

    plt = _pyplot()
    cm = np.asarray(matrix)
    k = len(class_names)
    side = min(max(4.2, 0.5 * k + 2), 12)
    fig, ax = plt.subplots(figsize=(side + 1, side))
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(k), labels=class_names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), labels=class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if k <= 30:
        limit = cm.max() / 2 if cm.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                        color="white" if cm[i, j] > limit else "black", fontsize="small")
    return _save(fig, path)


def plot_run(run_dir) -> list[Path]:
    """Every chart the folder's files allow (see module docstring); returns the PNG paths written.

    Raises:
        PlotError: matplotlib is not installed. DataError: not a run or k-fold folder, or nothing to plot.
    """
    folder = Path(run_dir)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such run folder; give a folder `nntrain fit` or `nntrain kfold` made, "
                        f"e.g. runs/NAME")
    _pyplot()
    written: list[Path] = []
    if (folder / "tune.json").exists():  # a `nntrain tune` folder: Optuna's charts of its study
        from nntrain.commands.tune import plot_study

        written += plot_study(folder)
    elif (folder / "kfold.json").exists():
        written += kfold_curves(folder, read_json(folder / "kfold.json"))
    elif (folder / "history.csv").exists():
        history = read_history_csv(folder / "history.csv")
        if history:
            written += learning_curves(history, folder, folder.name)
    else:
        raise DataError(f"{folder}: not a run folder (no history.csv or kfold.json)")
    for path in sorted(folder.glob("evaluation-*.json")):
        report = read_json(path)
        outputs = report.get("outputs") or {}
        for name, out in outputs.items():
            if "confusion_matrix" not in out:
                continue
            suffix = "" if len(outputs) == 1 else f"-{_safe(name)}"
            target = folder / f"confusion-{path.stem.removeprefix('evaluation-')}{suffix}.png"
            title = f"{folder.name}: {report.get('split')} split, {report.get('checkpoint')} checkpoint"
            written.append(confusion_matrix(out["confusion_matrix"], out["class_names"], target, title))
    if not written:
        raise DataError(f"{folder}: nothing to plot yet (no epoch finished)")
    return written
