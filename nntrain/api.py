"""nntrain from Python: train a config, load a run, predict, evaluate, export. A thin layer over nntrain/commands/,
the functions the `nntrain` commands call, so a run trained here is the run `nntrain fit` makes.

    import nntrain
    run = nntrain.fit("configs/iris.yaml", overrides={"training.epochs": 20})
    run = nntrain.load_run("runs/iris")
    run.predict({"sepal_length": [5.1], "sepal_width": [3.5], "petal_length": [1.4], "petal_width": [0.2]})
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["Run", "fit", "load_run"]


def _override_texts(overrides: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    """{"training.epochs": 5} or ["training.epochs=5"] as --set texts (JSON values are YAML values too)."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    if isinstance(overrides, str):
        return [overrides]
    return [str(text) for text in overrides]


def fit(config: str | Path, overrides: Mapping[str, Any] | Sequence[str] | None = None, *, name: str | None = None,
        runs_dir: str | Path = "runs", weights: str | Path | None = None, progress: str = "auto") -> Run:
    """Train the model a YAML config describes into a new run folder, as `nntrain fit` does.

    Args:
        config: the YAML config file.
        overrides: config values to change, {"training.epochs": 20, "optimizer.learning_rate": 3e-4} (or
            --set style texts ["training.epochs=20"]).
        name: the run's name (default: the config's `name`); the folder is runs_dir/name (name_2... when taken).
        runs_dir: where run folders go.
        weights: a checkpoint or Keras file to start from, layers matched by name (as `nntrain fit --weights`).
        progress: "auto" (a bar on a terminal, one line per epoch otherwise), "bar", "line" or "none".

    Returns:
        The trained Run (its `status` says whether training finished or was interrupted).

    Raises:
        nntrain.NNTrainError: a config, data or checkpoint problem, with the message `nntrain fit` prints.
    """
    from nntrain.commands.fit import fit as fit_run
    from nntrain.training.progress import ProgressDisplay

    display = None if progress == "none" else ProgressDisplay(progress, stream=sys.stdout)
    result = fit_run(Path(config), overrides=_override_texts(overrides), runs_dir=Path(runs_dir), name=name,
                     weights=None if weights is None else Path(weights), display=display,
                     command=[sys.argv[0] or "python", "nntrain.fit", str(config)])
    return Run(result.run_dir)


def load_run(path: str | Path, checkpoint: str = "best") -> Run:
    """A run folder (runs/NAME) or a checkpoint file, ready to predict and evaluate.

    Args:
        checkpoint: "best" (last.h5 when the run had no validation set) or "last".

    Raises:
        nntrain.CheckpointError: no such run folder or checkpoint.
    """
    return Run(path, checkpoint)


class Run:
    """A trained run: its folder, config, history and model, and what `nntrain predict` and `evaluate` do with it.

    Attributes:
        path: the run folder (or the checkpoint file when loaded from a file outside a run folder).
        checkpoint: "best" or "last": the checkpoint `model`, `predict`, `evaluate` and `export` use.
    """

    def __init__(self, path: str | Path, checkpoint: str = "best"):
        from nntrain.runs.trained import find_checkpoint

        self.path = Path(path)
        self.checkpoint = checkpoint
        self._file, self._folder, _, _ = find_checkpoint(self.path, checkpoint)  # fails early on a wrong path
        self._trained = None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r}, checkpoint={self.checkpoint!r})"

    # --- what the folder records ----------------------------------------------------------------------------
    def _json(self, name: str) -> dict:
        file = self._folder / name if self._folder is not None else None
        return json.loads(file.read_text(encoding="utf-8")) if file is not None and file.exists() else {}

    @property
    def info(self) -> dict:
        """run.json: status, versions, the command, start and end times ({} for a checkpoint file alone)."""
        return self._json("run.json")

    @property
    def status(self) -> str:
        """"finished", "interrupted", "failed" or "running" (run.json), or "unknown" for a checkpoint file."""
        return str(self.info.get("status", "unknown"))

    @property
    def metrics(self) -> dict:
        """metrics.json: the final epoch's values, each metric's best, the kept epoch."""
        return self._json("metrics.json")

    @property
    def config(self) -> dict:
        """The run's resolved config (every default filled in, overrides applied)."""
        return self.trained.config

    @property
    def history(self) -> list[dict[str, float | int | None]]:
        """One dict per epoch from history.csv: epoch, loss, metrics, val_ values, learning rate, seconds."""
        file = self._folder / "history.csv" if self._folder is not None else None
        if file is None or not file.exists():
            return []
        with open(file, newline="", encoding="utf-8") as fp:
            return [{k: (int(v) if k == "epoch" else float(v) if v != "" else None) for k, v in row.items()}
                    for row in csv.DictReader(fp)]

    def history_frame(self):
        """`history` as a pandas DataFrame indexed by epoch (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Run.history_frame needs pandas (pip install pandas); Run.history is the same as a "
                              "list of dicts") from None
        return pd.DataFrame(self.history).set_index("epoch")

    # --- the trained model ---------------------------------------------------------------------------------
    @property
    def trained(self):
        """The loaded checkpoint: model, fitted preprocessing and config (nntrain.runs.trained.Trained)."""
        if self._trained is None:
            from nntrain.runs.trained import load_trained

            self._trained = load_trained(self.path, self.checkpoint)
        return self._trained

    @property
    def model(self):
        """The engine Model (nntrain.Model) with the checkpoint's weights, compiled as in training."""
        return self.trained.model

    @property
    def classes(self) -> list[str] | dict[str, list[str] | None] | None:
        """Class (or label) names in probability-column order; a dict by output name for several outputs."""
        outputs = self.trained.outputs
        return outputs[0].classes if len(outputs) == 1 else {o.name: o.classes for o in outputs}

    def predict(self, rows, proba: bool = False):
        """Predict raw rows, with the preprocessing fitted in training applied exactly as `nntrain predict` does.

        Args:
            rows: a pandas DataFrame or a dict of columns (the training feature columns by name; others ignored),
                a NumPy array of raw feature values (rows, features) in the training column order (samples
                (rows, ...) for array inputs; a dict input name -> array for several), or a list of documents for
                a text model.
            proba: return class probabilities (rows, classes), in the order of `classes`, instead of classes.

        Returns:
            Classification: (rows,) array of class names; multilabel: a list of label-name lists; regression:
            (rows,) or (rows, k) float64 values in the raw target's units. A dict by output name when the model has
            several outputs.

        Raises:
            nntrain.DataError: rows that do not fit the model, naming what it expects.
        """
        from nntrain.commands.predict import predict_rows

        outputs = self.trained.outputs
        decoded = predict_rows(self.trained, rows)
        values = [_answer(o, d, proba) for o, d in zip(outputs, decoded)]
        return values[0] if len(values) == 1 else {o.name: v for o, v in zip(outputs, values)}

    def evaluate(self, split: str = "test", data: str | Path | None = None) -> dict:
        """Loss, metrics and per-class or regression figures on a split ("test", "val", "train") or other data,
        as `nntrain evaluate --json` reports them (also written into the run folder)."""
        from nntrain.commands.evaluate import evaluate

        return evaluate(self.path, checkpoint=self.checkpoint, data=None if data is None else Path(data),
                        split=split).report

    def export(self, out: str | Path, format: str | None = None, preprocessing: bool = True) -> dict:
        """Write the model for Keras (out.keras, with out.preprocessing.json beside it) or ONNX (out.onnx), as
        `nntrain export` does; the format from the suffix unless given. Returns what was written."""
        from nntrain.commands.export import export

        return export(self.path, Path(out), fmt=format, checkpoint=self.checkpoint, preprocessing=preprocessing)


def _answer(output, decoded, proba: bool):
    """One output's predictions in the form `Run.predict` returns."""
    import numpy as np

    if output.classes is None:
        values = decoded.values
        return values.reshape(len(values)) if output.width == 1 else values.reshape(len(values), -1)
    if proba:
        return decoded.probs
    names = np.array(output.classes, dtype=object)
    if decoded.index is not None:
        return names[decoded.index]
    return [list(names[on]) for on in decoded.on]
