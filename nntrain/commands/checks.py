"""The checks of the preparation stage that need both the compiled model and the loaded data (prepare_run):
metrics against the labels, Embedding vocabularies against the ids, monitored keys against what the run will log,
class weights and sample weights against the classes and rows. Each raises a located NNTrainError (exit 2) before
any run folder exists, naming the config key or the data column at fault."""

from __future__ import annotations

import copy

import numpy as np

from nntrain.config import RunConfig
from nntrain.errors import ConfigError, DataError, NNTrainError
from nntrain.registry import did_you_mean

# metric -> its twin for the other label form (one-hot rows vs integer class indices)
_TWINS = {
    "categorical_accuracy": "sparse_categorical_accuracy",
    "top_k_categorical_accuracy": "sparse_top_k_categorical_accuracy (sparse_top_k)",
    "sparse_categorical_accuracy": "categorical_accuracy",
    "sparse_top_k_categorical_accuracy": "top_k_categorical_accuracy (top_k)",
}


def _outputs(model, bundle) -> list[tuple[str, np.ndarray]]:
    return list(zip(model.output_names, model.as_output_list(bundle.train.y)))


def check_classes(cfg: RunConfig, model, bundle) -> None:
    """An output reading class indices must have one unit per class (or one sigmoid unit for two classes): a
    single unit cannot learn three classes, and fewer units than the labels have classes stop here, naming the
    classes and the units to set. More units than classes train, as in Keras (the extra ones are never the label)."""
    outputs = bundle.info["outputs"]
    for name, y in _outputs(model, bundle):
        # the data's facts of this output: by name, or the one output of a single-output model
        info = outputs.get(name) or (next(iter(outputs.values())) if len(outputs) == 1 else {})
        k, shape = info.get("n_classes"), tuple(model.shapes[name])
        if info.get("task") not in ("binary", "multiclass") or not k or np.asarray(y).ndim != 1 or len(shape) != 1:
            continue
        units = shape[0]
        if units >= k or (units == 1 and k == 2):  # more units than classes: allowed, as in Keras (unused)
            continue
        names = info.get("class_names") or list(range(k))
        fix = (f"end the model with Dense(units: {k}, activation: softmax) and use sparse_categorical_crossentropy"
               if units == 1 else f"give the last layer units: {k}")
        raise cfg.locate(ConfigError(
            f"output {name!r} has {units} unit{'s' if units > 1 else ''}, but its labels have {k} classes "
            f"({', '.join(map(str, names[:10]))}{', ...' if k > 10 else ''}); {fix}"), ("loss",)) from None


def check_metrics(cfg: RunConfig, model, bundle) -> None:
    """Each metric scores a few training labels against predictions of the model's output shape, as training will:
    a metric that cannot read these labels (top_k with integer labels) fails here, naming its twin."""
    for (name, y), metrics in zip(_outputs(model, bundle), model.metrics):
        y = np.asarray(y[:8])
        shape = tuple(1 if d is None else d for d in model.shapes[name])
        pred = np.full((len(y), *shape), 1.0 / max(shape[-1] if shape else 1, 1), dtype=np.float32)
        for metric in metrics:
            try:
                copy.deepcopy(metric).update(y, pred)
            except (NNTrainError, ValueError, IndexError) as exc:
                labels = "integer class indices" if y.ndim == 1 or y.shape[-1] == 1 else f"rows of shape {y.shape[1:]}"
                twin = _TWINS.get(metric.registered_name)
                hint = f"; for these labels use {twin}" if twin else ""
                raise cfg.locate(ConfigError(f"metric {metric.name!r} cannot score output {name!r}, whose labels are "
                                             f"{labels}: {exc}{hint}"), ("metrics",)) from None


def check_embeddings(cfg: RunConfig, model, bundle) -> None:
    """An Embedding reading a model input must have room for every id in the data (train, validation, test)."""
    from nntrain.engine.layers import Embedding

    for node in model.nodes:
        if not isinstance(node.layer, Embedding):
            continue
        for inp in node.inbound:
            if inp not in model.input_names:
                continue
            top = max(_largest_id(part, model, inp) for part in (bundle.train, bundle.val, bundle.test))
            if top >= node.layer.input_dim:
                path = _layer_path(cfg, node.layer.name)
                raise cfg.locate(ConfigError(
                    f"layer `{node.layer.name}` (Embedding) has input_dim={node.layer.input_dim}, but input "
                    f"{inp!r} holds ids up to {top}; set input_dim: {top + 1} or more, or cap the vocabulary "
                    "(data.tokenizer.num_words, or data.options.num_words of a catalogue dataset)"), path) from None


def _largest_id(part, model, name: str) -> int:
    if part is None:
        return -1
    x = dict(zip(model.input_names, model.as_input_list(part.x)))[name]
    x = np.asarray(x)
    return int(x.max()) if x.size and x.dtype.kind in "iuf" else -1


def _layer_path(cfg: RunConfig, layer: str) -> tuple:
    for i, entry in enumerate(cfg["model"]["layers"]):
        if entry.get("name") == layer:
            return ("model", "layers", i)
    return ("model",)


def logged_keys(model, validation: bool) -> list[str]:
    """The keys every epoch's logs will hold (history.csv's columns): losses and metrics, their val_ twins."""
    from nntrain.engine.model import Tracker

    keys = list(Tracker(model).result()) + ["learning_rate"]
    return keys + (list(Tracker(model).result("val_")) if validation else [])


def check_monitors(cfg: RunConfig, model, bundle, val_callbacks: bool = True) -> None:
    """Every built-in callback's `monitor` names a key this run logs (a custom callback checks its own)."""
    keys = logged_keys(model, bundle.val is not None)
    for entry, recipe in zip(cfg["callbacks"], cfg.recipes.callbacks):
        monitor = entry.get("monitor")
        if not isinstance(monitor, str) or ":" in str(entry.get("name")) or monitor in keys:
            continue
        if monitor.startswith("val_") and not val_callbacks:
            continue  # dropped for this run (a k-fold refit trains without validation)
        if monitor.startswith("val_") and bundle.val is None and monitor[4:] in keys:
            why = ("this run has no validation set: set training.validation_split (e.g. 0.2) or data.validation, "
                   f"or monitor {monitor[4:]!r}")
        else:
            why = f"it logs: {', '.join(keys)}{did_you_mean(monitor, keys)}"
        raise cfg.locate(ConfigError(f"{entry['name']} monitors {monitor!r}, which this run never logs; {why}"),
                         (*recipe.path, "monitor")) from None


def balanced_class_weight(y: np.ndarray) -> dict:
    """Keras/sklearn 'balanced': n_samples / (n_classes * count(class))."""
    y = np.asarray(y)
    labels = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else np.rint(y.reshape(-1)).astype(int)
    classes, counts = np.unique(labels, return_counts=True)
    return {int(c): float(len(labels) / (len(classes) * n)) for c, n in zip(classes, counts)}


def class_weight(cfg: RunConfig, model, bundle) -> dict | None:
    """training.class_weight as {class index: weight}: keys are class names or indices, or `balanced` (computed on
    the training rows). An unknown key, a class without a weight, or a target without classes is an error that
    lists the classes."""
    value = cfg["training"]["class_weight"]
    if not value:
        return None
    where = ("training", "class_weight")
    if len(model.output_names) != 1:
        raise cfg.locate(ConfigError("class_weight needs a single-output model"), where)
    output = next(iter(bundle.info["outputs"].values()))
    if output["task"] not in ("binary", "multiclass"):
        raise cfg.locate(ConfigError(f"class_weight needs class labels; the target is a {output['task']} target"),
                         where)
    y = model.as_output_list(bundle.train.y)[0]
    if value == "balanced":
        return balanced_class_weight(y)
    n, names = int(output["n_classes"]), output["class_names"]
    shown = ", ".join(f"{i} = {names[i]!r}" if names else str(i) for i in range(n))
    weights = {}
    for key, weight in value.items():
        index = _class_index(key, names, n)
        if index is None:
            hint = did_you_mean(str(key), list(names)) if names else ""
            raise cfg.locate(ConfigError(f"class_weight names class {key!r}, which the labels do not have{hint}; "
                                         f"the classes are: {shown}"), (*where, key))
        weights[index] = float(weight)
    labels = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else np.rint(np.asarray(y).reshape(-1)).astype(int)
    missing = [int(c) for c in np.unique(labels) if int(c) not in weights]
    if missing:
        named = ", ".join(repr(names[c]) if names else str(c) for c in missing)
        raise cfg.locate(ConfigError(f"class_weight gives no weight for class(es) {named} of the training labels; "
                                     f"the classes are: {shown}"), where)
    return weights


def _class_index(key, names: list | None, n: int) -> int | None:
    """A class_weight key as a class index: a class name first, else an index in 0..n-1."""
    if names and str(key) in names:
        return names.index(str(key))
    try:
        index = int(key)
    except (TypeError, ValueError):
        return None
    return index if 0 <= index < n and str(index) == str(key).strip() else None


def sample_weights(cfg: RunConfig, bundle) -> np.ndarray | None:
    """(train rows,) weights of data.sample_weight, checked: a column of a table, not zero in every training row.
    (Each value was checked finite and non-negative when read.)"""
    column = cfg["data"].get("sample_weight")
    if column is None:
        return None
    where = ("data", "sample_weight")
    weights = bundle.train.weights
    if weights is None:
        raise cfg.locate(ConfigError(f"data.sample_weight names a column of a CSV/TSV file; this data has no "
                                     f"columns by name ({bundle.info['dataset']})"), where)
    if not weights.any():
        raise cfg.locate(DataError(f"sample weight column {column!r} is zero in every training row: nothing would "
                                   "be learned"), where)
    return weights
