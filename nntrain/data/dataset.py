"""DataBundle: the model-ready splits of one run. make_bundle chooses the validation rows, fits the Preprocessor on
the training rows only and transforms every split."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nntrain.data.pipeline import Preprocessor
from nntrain.data.raw import RawData, RawSplit
from nntrain.data.splits import split_indices
from nntrain.errors import ConfigError


@dataclass
class Split:
    """Model-ready rows.

    Attributes:
        x: float32 (rows, ...), int32 (rows, maxlen) ids, MultiHot (rows, dimension), or a dict name -> those.
        y: (rows,) int32 class indices / float32 targets, (rows, k) float32, or a dict name -> those.
        weights: (rows,) float64 sample weights (data.sample_weight), or None.
    """

    x: Any
    y: Any
    weights: np.ndarray | None = None

    def __len__(self) -> int:
        x = self.x if not isinstance(self.x, dict) else next(iter(self.x.values()))
        return len(x)


@dataclass
class DataBundle:
    """Everything training needs from the data section.

    Attributes:
        train, val, test: Split or None.
        preprocessor: the fitted Preprocessor (save its get_state() with the model).
        class_names: output name -> class names or None ("output" for single-output models).
        indices: "train"/"val"/"test" -> int64 row numbers in the file/array each split came from.
        info: dataset, task(s), feature names, input shapes, outputs (see `make_info`).
    """

    train: Split
    val: Split | None
    test: Split | None
    preprocessor: Preprocessor
    class_names: dict[str, list[str] | None]
    indices: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict = field(default_factory=dict)


def _shape(x: Any) -> tuple:
    return tuple(int(d) for d in x.shape[1:])


def make_info(name: str, pre: Preprocessor, x: Any) -> dict:
    """Dataset facts for the CLI and model building (shapes exclude the batch dimension).

    Keys: dataset, task (the first output's), tasks (per output), n_classes (first output's or None), inputs
    (name -> shape), input_shape (single input's shape), feature_names (name -> list or None), outputs
    (name -> {task, n_classes, width, class_names}), input_kinds.
    """
    xs = x if isinstance(x, dict) else {next(iter(pre.inputs)): x}
    outputs = {
        n: {"task": p.encoder.task, "n_classes": p.encoder.n_classes, "width": p.width,
            "class_names": p.encoder.class_names}
        for n, p in pre.outputs.items()
    }
    first = next(iter(outputs.values()))
    inputs = {n: _shape(v) for n, v in xs.items()}
    return {
        "dataset": name,
        "task": first["task"],
        "tasks": {n: o["task"] for n, o in outputs.items()},
        "n_classes": first["n_classes"],
        "inputs": inputs,
        "input_shape": next(iter(inputs.values())),
        "input_kinds": {n: p.kind for n, p in pre.inputs.items()},
        "feature_names": {n: p.feature_names for n, p in pre.inputs.items()},
        "outputs": outputs,
    }


def _validation_rows(
    raw: RawData, train_idx, val_idx, validation_split: float, shuffle: bool, stratify: bool, seed: int
) -> tuple[np.ndarray, RawSplit | None]:
    """(positions in raw.train to train on, the validation rows or None): see make_bundle."""
    everything = np.arange(len(raw.train), dtype=np.int64)
    base = everything if train_idx is None else np.asarray(train_idx, np.int64)
    if raw.validation is not None:
        return base, raw.validation
    if val_idx is not None:
        val_pos = np.asarray(val_idx, np.int64)
        return (np.setdiff1d(everything, val_pos) if train_idx is None else base), raw.train.take(val_pos)
    if validation_split:
        labels = raw.stratify_labels() if stratify else None
        keep, held = split_indices(len(base), validation_split, shuffle, None if labels is None else labels[base],
                                   seed)
        return base[keep], raw.train.take(base[held])
    return base, None


def make_bundle(
    raw: RawData,
    spec: dict,
    train_idx: np.ndarray | None = None,
    val_idx: np.ndarray | None = None,
    validation_split: float = 0.0,
    shuffle: bool = True,
    stratify: bool = False,
    seed: int = 0,
) -> DataBundle:
    """Fit on the training rows and transform train/validation/test.

    Validation comes from, in order: the explicit validation file; `val_idx` (positions in raw.train, e.g. a
    k-fold); a `validation_split` fraction of raw.train (the last rows when not shuffled, as in Keras).

    Args:
        raw: from load_raw.
        spec: the data section (preprocessing, target_preprocessing, tokenizer, inputs/outputs).
        train_idx: positions in raw.train to train on (default: all not used for validation).
        val_idx: positions in raw.train to validate on.
        validation_split: fraction of raw.train held out for validation when no file/indices give it.
        shuffle: pick the validation fraction at random (seeded).
        stratify: keep class proportions in the validation fraction.
        seed: seed of the validation split.
    """
    spec = dict(spec or {})
    train_pos, val_split = _validation_rows(raw, train_idx, val_idx, validation_split, shuffle, stratify, seed)
    if len(train_pos) == 0:
        raise ConfigError("no training rows are left after taking the validation rows out")

    train_split = raw.train.take(train_pos)
    pre = Preprocessor.from_spec(raw, spec)
    x, y = pre.fit_transform(train_split, raw)

    def transform(part: RawSplit | None, name: str) -> Split | None:
        if part is None or len(part) == 0:
            return None
        split = Split(pre.transform_x(part.x), pre.transform_y(part.y, part.source), part.weights)
        pre.warn_unseen(name)
        return split

    indices = {"train": train_split.rows}
    if val_split is not None:
        indices["val"] = val_split.rows
    if raw.test is not None:
        indices["test"] = raw.test.rows
    return DataBundle(
        Split(x, y, train_split.weights), transform(val_split, "validation"), transform(raw.test, "test"), pre, pre.class_names, indices,
        make_info(raw.name, pre, x),
    )
