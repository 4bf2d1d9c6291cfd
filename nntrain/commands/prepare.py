"""From a validated config to what training needs: the compiled model, the data bundle, and the checks between
them. Every error here comes before a run folder exists, located at its config line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain.config import RunConfig
from nntrain.errors import CheckpointError, NNTrainError


@dataclass
class Rows:
    """Which rows of already-read data a run trains and validates on (a k-fold fold, the kfold refit): positions
    in raw.train; `val` None means no validation set. The config's own validation_split is not used then."""

    raw: object
    train: np.ndarray
    val: np.ndarray | None = None


def locate(cfg: RunConfig, exc: NNTrainError, default: tuple) -> NNTrainError:
    """The same error, located in the config at the key path it carries, or at `default`."""
    return cfg.locate(exc, tuple(exc.path) or default)


def data_inputs(cfg: RunConfig) -> dict | None:
    """What the data says about each model input, without loading it (for shape checks)."""
    from nntrain.data import describe

    try:
        desc = describe(cfg["data"], cfg.base_dir)
    except NNTrainError as exc:
        raise locate(cfg, exc, ("data",)) from None
    inputs = desc.get("inputs") or {}
    return {name: v if isinstance(v, dict) else {"shape": list(v)} for name, v in inputs.items()}


def prepare(cfg: RunConfig):
    """Build and compile the model of a config: every config and shape error surfaces here, before data."""
    from nntrain.config.build import build_model, compile_model

    model = build_model(cfg, data_inputs(cfg))
    compile_model(model, cfg)
    return model


def load_bundle(cfg: RunConfig, progress=None, rows: Rows | None = None):
    """The model-ready data of a run: the config's data with its validation split, or the given `rows`."""
    from nntrain.data import load_raw, make_bundle

    try:
        if rows is not None:
            return make_bundle(rows.raw, cfg["data"], train_idx=rows.train, val_idx=rows.val, validation_split=0.0)
        t = cfg["training"]
        seed = t["validation_seed"] if t["validation_seed"] is not None else cfg["seed"]
        raw = load_raw(cfg["data"], cfg.base_dir, progress=progress)
        return make_bundle(raw, cfg["data"], validation_split=t["validation_split"], shuffle=t["validation_shuffle"],
                           stratify=t["stratify"], seed=seed)
    except NNTrainError as exc:
        raise locate(cfg, exc, ("data",)) from None


def check_bundle(model, bundle, cfg: RunConfig) -> None:
    """Data against the model before training: input shapes and values (located at `model`), then labels
    against each loss (located at `loss`)."""
    for split in ("train", "val", "test"):
        part = getattr(bundle, split)
        if part is None:
            continue
        what = {"train": "the training data", "val": "the validation data", "test": "the test data"}[split]
        xs = model.as_input_list(part.x)
        for ys, at in ((None, ("model",)), (model.as_output_list(part.y), ("loss",))):
            try:
                model.check_data(xs, ys, what)
            except NNTrainError as exc:
                raise locate(cfg, exc, at) from None


def balanced_class_weight(y: np.ndarray) -> dict:
    """Keras/sklearn 'balanced': n_samples / (n_classes * count(class))."""
    y = np.asarray(y)
    labels = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else np.rint(y.reshape(-1)).astype(int)
    classes, counts = np.unique(labels, return_counts=True)
    return {int(c): float(len(labels) / (len(classes) * n)) for c, n in zip(classes, counts)}


def class_weight(cfg: RunConfig, model, bundle) -> dict | None:
    """The config's training.class_weight as {class index: weight}; "balanced" computed on the training rows."""
    value = cfg["training"]["class_weight"]
    if value == "balanced":
        return balanced_class_weight(model.as_output_list(bundle.train.y)[0])
    return {int(k): float(v) for k, v in value.items()} if value else None


def weights_in(path: Path) -> dict:
    """{layer: {weight: array}} of an nntrain checkpoint or a Keras model file (.keras, legacy .h5)."""
    from nntrain.interop.keras_read import is_keras_file, read_keras, weights_by_name
    from nntrain.runs.checkpoint import load

    if is_keras_file(path):
        return weights_by_name(read_keras(path))
    return load(path).weights


def load_weights_by_name(model, path: Path) -> list[str]:
    """Copy weights from another run's checkpoint, or a Keras model file, into layers of the same name and shape
    (transfer learning). Returns the names of the layers loaded."""
    weights = weights_in(Path(path))
    loaded = []
    for layer in model.layers:
        src = weights.get(layer.name)
        if not src:
            continue
        own = {**layer.params, **layer.state}
        for key, value in src.items():
            if key in own and own[key].shape != value.shape:
                raise CheckpointError(f"{path}: layer `{layer.name}` weight `{key}` has shape {value.shape}, "
                                      f"this model's has {own[key].shape}")
        layer.set_weights({k: v for k, v in src.items() if k in own})
        loaded.append(layer.name)
    if not loaded:
        raise CheckpointError(f"{path}: no layer name matches this model's layers "
                              f"({', '.join(l.name for l in model.layers)}); the file has {', '.join(weights)}")
    return loaded


def check(config, overrides=()) -> tuple:
    """`nntrain check`: the validated config and its compiled model, without loading any data."""
    from nntrain.config import load_config

    cfg = load_config(config, overrides)
    return cfg, prepare(cfg)
