"""`nntrain evaluate`: a trained run's loss and metrics on labelled data, plus a classification or regression report.

The loss and metrics go through the same code, batch size and row order as the validation pass of `nntrain fit`,
so `evaluate --split val --checkpoint last` reproduces the last epoch's val_ values in history.csv exactly.
The split is rebuilt from the run's data config and the row numbers saved in splits.npz; the checkpoint's fitted
preprocessing is applied (nothing is refitted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain.errors import ConfigError, DataError
from nntrain.runs.folder import write_json
from nntrain.runs.trained import CLASS_TASKS, Decoded, Output, Trained, decode, load_trained, require_training

SPLITS = ("test", "val", "train")


@dataclass
class EvaluationResult:
    """What `evaluate` measured (`report` is also the JSON written to `path`)."""

    report: dict
    path: Path


# --- reports ---------------------------------------------------------------------------------------------
def classification_report(labels: np.ndarray, predicted: np.ndarray, class_names: list[str]) -> dict:
    """Confusion matrix and per-class precision / recall / F1.

    Args:
        labels, predicted: (rows,) class indices. class_names: one name per class index.

    Returns:
        confusion_matrix[true][predicted] counts, per_class rows, accuracy, macro and support-weighted averages.
        A class never predicted has precision 0 (never present: recall 0), as scikit-learn's zero_division=0.
    """
    k = len(class_names)
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (np.asarray(labels, np.int64), np.asarray(predicted, np.int64)), 1)
    tp = np.diag(cm).astype(np.float64)
    predicted_n, support = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted_n, out=np.zeros(k), where=predicted_n > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(k), where=both > 0)
    total = int(support.sum())
    weights = support / total if total else np.zeros(k)
    return {
        "class_names": list(class_names),
        "confusion_matrix": cm.tolist(),
        "per_class": [{"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for c, p, r, f, s in zip(class_names, precision, recall, f1, support)],
        "accuracy": float(tp.sum() / total) if total else float("nan"),
        "macro_avg": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "weighted_avg": {"precision": float(precision @ weights), "recall": float(recall @ weights),
                         "f1": float(f1 @ weights)},
    }


def regression_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """MAE, MSE, RMSE and R^2 over every value (R^2 = 1 - SS_res / SS_tot, SS_tot around each column's mean)."""
    t = np.asarray(y_true, np.float64).reshape(len(y_true), -1)
    p = np.asarray(y_pred, np.float64).reshape(len(y_pred), -1)
    err = p - t
    mse = float(np.mean(err ** 2)) if err.size else float("nan")
    ss_tot = float(((t - t.mean(axis=0)) ** 2).sum()) if len(t) else 0.0
    return {
        "mae": float(np.mean(np.abs(err))) if err.size else float("nan"),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "r2": 1.0 - float((err ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan"),
    }


# --- which rows ------------------------------------------------------------------------------------------
def positions_of(rows: np.ndarray, wanted: np.ndarray, what: str) -> np.ndarray:
    """Positions in `rows` (a split's source row numbers) of the row numbers `wanted`, in `wanted`'s order."""
    rows, wanted = np.asarray(rows, np.int64), np.asarray(wanted, np.int64)
    order = np.argsort(rows, kind="stable")
    at = np.searchsorted(rows[order], wanted)
    at = np.minimum(at, max(len(rows) - 1, 0))
    if len(wanted) and (len(rows) == 0 or np.any(rows[order][at] != wanted)):
        raise DataError(f"the {what} rows saved with the run are not in the data any more; the data changed since "
                        f"training (give --data to evaluate on other data)")
    return order[at]


def split_part(raw, split: str, indices: dict):
    """The RawSplit of `split` ("test", "val", "train") given the run's saved row numbers per split."""
    if split == "test":
        if raw.test is None:
            raise DataError("the run's data has no test split (no data.test file or test_split); use --split val, "
                            "--split train, or --data FILE")
        if "test" in indices and not np.array_equal(np.asarray(indices["test"]), raw.test.rows):
            raise DataError("the test rows saved with the run differ from the data's test split now; the data "
                            "changed since training (give --data to evaluate on other data)")
        return raw.test
    if split == "val":
        if raw.validation is not None:
            return raw.validation
        if indices.get("val") is None or len(indices["val"]) == 0:
            raise DataError("the run had no validation split (training.validation_split was 0); use --split test "
                            "or --split train")
        return raw.train.take(positions_of(raw.train.rows, indices["val"], "validation"))
    if split == "train":
        if indices.get("train") is None:
            return raw.train
        return raw.train.take(positions_of(raw.train.rows, indices["train"], "training"))
    raise ConfigError(f"--split expects one of {', '.join(SPLITS)}, got {split!r}")


def _computed_indices(config: dict, raw) -> dict:
    """The split rows `nntrain fit` chooses for a resolved config (what a run's splits.npz holds)."""
    from nntrain.data import make_bundle

    t = config["training"]
    seed = t["validation_seed"] if t.get("validation_seed") is not None else config["seed"]
    bundle = make_bundle(raw, config["data"], validation_split=t["validation_split"], shuffle=t["validation_shuffle"],
                         stratify=t["stratify"], seed=seed)
    return {k: v for k, v in bundle.indices.items() if v is not None}


def _data_file_spec(config: dict) -> tuple[dict, str | None]:
    """The run's data spec for reading another file of the same layout, and the default target column."""
    spec = {k: v for k, v in dict(config["data"]).items()
            if k not in ("dataset", "train", "test", "validation", "test_split", "options")}
    target = None
    if config["data"].get("dataset"):
        from nntrain.data import dataset_entry

        entry = dataset_entry(config["data"]["dataset"])
        target = getattr(entry, "target", None)
    return spec, target


def labelled_rows(trained: Trained, split: str = "test", data=None):
    """(RawSplit, split label, description) of the rows to evaluate.

    Args:
        data: None (the run's own data and saved split rows), a config file (.yaml/.yml: its data section and the
            split `nntrain fit` would make), or a data file with the training layout (all its rows).
    """
    from nntrain.data import load_raw

    if data is None:
        raw = load_raw(trained.config["data"], trained.base_dir)
        if trained.kind == "kfold-fold":
            raw.validation = None  # a fold validated on its held-out rows, not on a validation file
        saved = trained.run_dir / "splits.npz" if trained.run_dir is not None else None
        if saved is not None and saved.exists():
            with np.load(saved) as z:
                indices = {k: z[k] for k in z.files}
        else:
            indices = _computed_indices(trained.config, raw)
        part = split_part(raw, split, indices)
        return part, split, described(raw, part, split)
    data = Path(data)
    if not data.exists():
        raise DataError(f"--data {data}: not found")
    if data.suffix.lower() in (".yaml", ".yml"):
        from nntrain.config import load_config

        cfg = load_config(data)
        raw = load_raw(cfg["data"], cfg.base_dir)
        part = split_part(raw, split, _computed_indices(cfg.resolved, raw))
        return part, f"data-{_label(data)}-{split}", f"{described(raw, part, split)} (the data of {data})"
    from nntrain.data import read_file

    spec, target = _data_file_spec(trained.config)
    part = read_file(data, spec, default_target=target).split
    return part, f"data-{_label(data)}", f"all {len(part)} rows of {data}"


def described(raw, part, split: str) -> str:
    """Where a split's rows come from: its own file (data.test, data.validation, a catalogue part) or the training
    data it was cut from."""
    if part.source != raw.train.source:
        return f"{split} split from {part.source}"
    return f"{split} split of {raw.name}"


def _label(path: Path) -> str:
    """A file name part for evaluation-<label>-<checkpoint>.json (prefixed data- so it never hides a split's)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", path.name.split(".")[0]) or "file"


# --- evaluate --------------------------------------------------------------------------------------------
def output_report(output: Output, decoded: Decoded, truth: np.ndarray, y: np.ndarray) -> dict:
    """The report of one output: classification (confusion matrix, per class), per label, or regression.

    Args:
        decoded: the output's model values, decoded. truth: its raw targets (rows, ...). y: the same targets as the
            model saw them (encoded, target steps applied), for values that cannot go back to raw units.
    """
    entry = {"task": output.task}
    if output.task in CLASS_TASKS:
        labels = output.pipeline.encoder.transform(truth)
        labels = labels.argmax(axis=1) if labels.ndim == 2 else labels.reshape(len(labels))
        entry.update(classification_report(labels, decoded.index, output.classes))
    elif output.task == "multilabel":
        truth = np.asarray(truth, np.float64).reshape(len(truth), -1) > 0.5
        entry["per_label"] = {c: classification_report(truth[:, j].astype(int), decoded.on[:, j].astype(int),
                                                       ["0", "1"])["per_class"][1]
                              for j, c in enumerate(output.classes)}
    elif decoded.raw_units:
        entry.update(regression_report(truth, decoded.values))
        entry["units"] = "raw target"
    else:
        entry.update(regression_report(y, decoded.values))
        entry["units"] = "preprocessed target"
    return entry


def evaluate(target, checkpoint: str = "best", data=None, split: str = "test") -> EvaluationResult:
    """Loss, every configured metric and a per-output report of a trained run on labelled rows.

    Writes evaluation-<split>-<checkpoint>.json (evaluation-data-<file>-... for --data) into the run folder (beside
    the checkpoint file when it is not in one); evaluations of other splits or checkpoints keep their own files.

    Args:
        target: a run folder (runs/NAME) or a checkpoint file.
        checkpoint: "best" (falls back to "last" when the run had no validation set) or "last".
        data: see `labelled_rows`. split: "test", "val" or "train".

    Raises:
        NNTrainError subclasses for a missing run, a split the run does not have, or data that does not fit.
    """
    from nntrain.training.loop import evaluate_lists, predict

    if split not in SPLITS:
        raise ConfigError(f"--split expects one of {', '.join(SPLITS)}, got {split!r}")
    trained = load_trained(target, checkpoint)
    require_training(trained)
    model, pre = trained.model, trained.preprocessor
    part, label, description = labelled_rows(trained, split, data)
    if len(part) == 0:
        raise DataError(f"the {description} has no rows to evaluate")
    xs = model.as_input_list(pre.transform_x(part.x))
    pre.warn_unseen(split if data is None else "")
    raw_y = part.y if not pre.single_output else part.y[next(iter(part.y))]
    ys = model.as_output_list(pre.transform_y(raw_y, part.source))
    model.check_data(xs, ys, f"the {description}")
    bs = trained.config["training"].get("batch_size", 32)
    metrics = evaluate_lists(model, xs, ys, batch_size=bs)
    predicted = predict(model, dict(zip(model.input_names, xs)), batch_size=bs)  # batched like the loss pass
    outs = [predicted[n] for n in model.output_names] if isinstance(predicted, dict) else [predicted]
    outputs = {o.name: output_report(o, decode(o, out), part.y[o.name], y)
               for o, out, y in zip(trained.outputs, outs, ys)}

    folder = trained.run_dir if trained.run_dir is not None else trained.checkpoint_path.parent
    path = folder / f"evaluation-{label}-{trained.which}.json"
    report = {
        "run": str(trained.run_dir) if trained.run_dir is not None else None,
        "checkpoint": trained.which,
        "checkpoint_path": str(trained.checkpoint_path),
        "epoch": trained.checkpoint.epoch,
        "split": label,
        "data": description,
        "source": part.source,
        "rows": len(part),
        "batch_size": bs,
        "metrics": metrics,
        "outputs": outputs,
        "note": trained.note,
    }
    write_json(path, report)
    return EvaluationResult(report, path)
