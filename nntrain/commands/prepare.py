"""From a validated config to what training needs: the data bundle, the compiled model sized from it, and every
check between them. Every error here comes before a run folder exists, located at its config line.

`prepare_run` is the one preparation stage: `nntrain fit` (every run, fold and refit) and `nntrain check --data`
call it, so whatever `check --data` accepts, `fit` trains. `prepare(cfg)` alone is `nntrain check`'s fast mode: it
sizes the model from `describe` (the data's headers and metadata) without loading the data.
"""

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


def bundle_inputs(bundle) -> dict:
    """What the loaded data says about each model input: {name: {"shape": [...]}} from the training arrays."""
    x = bundle.train.x
    xs = x if isinstance(x, dict) else {next(iter(bundle.preprocessor.inputs)): x}
    return {name: {"shape": [int(d) for d in v.shape[1:]]} for name, v in xs.items()}


def prepare(cfg: RunConfig, bundle=None):
    """Build and compile the model of a config, sized from the loaded `bundle`, or (None) from `describe`."""
    from nntrain.config.build import build_model, compile_model

    inputs = bundle_inputs(bundle) if bundle is not None else data_inputs(cfg)
    try:
        model = build_model(cfg, inputs)
    except NNTrainError as exc:
        unknown = [n for n, v in (inputs or {}).items() if None in v.get("shape", ())]
        if not unknown:
            raise
        # a width only the data can tell (a text folder's vocabulary, the longest sequence)
        hinted = type(exc)(f"{exc}. The width of input {unknown[0]!r} is known only once the data is read: run "
                           "`nntrain check --data`, or fix it in the config: data.tokenizer.num_words (then "
                           "multi_hot is num_words + 2 wide), multi_hot: {dimension: N}, or pad_sequences: "
                           "{maxlen: N}", exc.path, exc.layer)
        hinted.located = exc.located
        raise hinted from None
    compile_model(model, cfg)
    return model


def early_check(cfg: RunConfig) -> None:
    """Config and shape errors before any data is read, where describing the data costs nothing (a named dataset:
    metadata, or a small bundled table). Own files would be read twice; their model is built from the loaded data."""
    if cfg["data"].get("dataset") is not None:
        prepare(cfg)


@dataclass
class Prepared:
    """Everything a run needs, checked: the compiled model, the data, and the per-example weights.

    Attributes:
        class_weight: {class index: weight} of the single output, or None.
        sample_weight: (train rows,) float64 weights from data.sample_weight, or None.
    """

    model: object
    bundle: object
    class_weight: dict | None
    sample_weight: np.ndarray | None


def prepare_run(cfg: RunConfig, progress=None, rows: Rows | None = None, val_callbacks: bool = True) -> Prepared:
    """The preparation stage: load the data, build the model from it, and check everything that depends on the
    data (widths, labels against the loss and metrics, monitored keys, class weights, vocabulary sizes).

    Args:
        rows: train and validate on these rows of already-read data (kfold).
        val_callbacks: whether callbacks monitoring val_ values will run (a refit without validation drops them).
    """
    from nntrain.commands.checks import (check_classes, check_embeddings, check_metrics, check_monitors,
                                         class_weight, sample_weights)

    early_check(cfg)
    bundle = load_bundle(cfg, progress, rows)
    model = prepare(cfg, bundle)
    check_classes(cfg, model, bundle)
    check_bundle(model, bundle, cfg)
    check_metrics(cfg, model, bundle)
    check_embeddings(cfg, model, bundle)
    check_monitors(cfg, model, bundle, val_callbacks)
    return Prepared(model, bundle, class_weight(cfg, model, bundle), sample_weights(cfg, bundle))


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
    """`nntrain check`: the validated config and its compiled model, sized from `describe` (no data loaded)."""
    from nntrain.config import load_config

    cfg = load_config(config, overrides)
    return cfg, prepare(cfg)


def check_data(config, overrides=()) -> tuple:
    """`nntrain check --data`: the validated config and the prepared run (fit's whole preparation stage, nothing
    written)."""
    from nntrain.config import load_config

    cfg = load_config(config, overrides)
    return cfg, prepare_run(cfg)
