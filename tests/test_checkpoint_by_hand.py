"""docs/checkpoint-format.md is enough to use a trained model without nntrain: from a checkpoint, with h5py and
NumPy only, rebuild the preprocessing (table encoder with a categorical column, rescale, standardize, minmax), the
Dense layers and the mapping of outputs back to class names (one_hot targets) and to target units (a standardized
regression target), and get what `nntrain predict` prints for the same new rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from tests.helpers import invoke

TRAIN = "a,b,color,label,price\n" + "".join(
    f"{a},{b},{c},{lab},{price}\n"
    for a, b, c, lab, price in (
        (1.0, 20, "red", "cat", 110.0), (2.5, 18, "blue", "dog", 150.5), (0.5, 25, "green", "cat", 98.0),
        (3.0, 15, "blue", "bird", 170.0), (1.5, 22, "red", "dog", 131.0), (2.0, 30, "green", "bird", 122.5),
        (4.0, 12, "red", "cat", 190.0), (0.2, 28, "blue", "dog", 90.0), (3.5, 17, "green", "bird", 175.0),
        (2.8, 21, "red", "cat", 160.0), (1.2, 26, "blue", "bird", 105.0), (3.2, 14, "green", "dog", 181.0),
    )
)
NEW = "a,b,color\n1.7,19,red\n3.9,11,blue\n0.1,31,purple\n"  # purple: a category training never saw

CONFIGS = {
    "classes": {
        "data": {"train": "train.csv", "target": "label", "features": ["a", "b", "color"],
                 "preprocessing": [{"rescale": {"scale": 0.5, "offset": 1.0}}, "standardize"],
                 "target_preprocessing": ["one_hot"]},
        "model": {"layers": [{"Dense": {"units": 6, "activation": "tanh"}},
                             {"Dense": {"units": 3, "activation": "softmax"}}]},
        "loss": "categorical_crossentropy",
    },
    "values": {
        "data": {"train": "train.csv", "target": "price", "features": ["a", "b", "color"],
                 "preprocessing": ["minmax"], "target_preprocessing": ["standardize"]},
        "model": {"layers": [{"Dense": {"units": 5, "activation": "relu"}}, {"Dense": {"units": 1}}]},
        "loss": "mse",
    },
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("by_hand")
    (root / "train.csv").write_text(TRAIN)
    (root / "new.csv").write_text(NEW)
    for name, config in CONFIGS.items():
        config = {"name": name, "seed": 3, **config, "optimizer": {"name": "adam", "learning_rate": 0.05},
                  "training": {"epochs": 8, "batch_size": 4}}
        (root / f"{name}.yaml").write_text(yaml.safe_dump(config))
        r = invoke("fit", root / f"{name}.yaml", "--runs-dir", root / "runs", "-q", "--progress", "none")
        assert r.returncode == 0, r.stderr
    return root


# --- what the document says, and nothing else -------------------------------------------------------------
def read_tree(group) -> object:
    """A `/training` or `/preprocessing` group: JSON in attribute `json`, arrays as datasets 0, 1, ..."""
    arrays = []
    while str(len(arrays)) in group:
        ds = group[str(len(arrays))]
        arrays.append(ds[()].astype(str) if ds.attrs.get("str", False) else ds[()])

    def unpack(v):
        if isinstance(v, dict):
            if set(v) == {"__array__"}:
                return arrays[v["__array__"]]
            if set(v) == {"__float__"}:
                return float(v["__float__"])
            return {k: unpack(x) for k, x in v.items()}
        return [unpack(x) for x in v] if isinstance(v, list) else v

    return unpack(json.loads(group.attrs["json"]))


def encode_table(encoder: dict, rows: list[dict]) -> np.ndarray:
    columns = []
    for name in encoder["columns"]:
        if name in encoder["categories"]:
            columns += [[float(r[name] == c) for r in rows] for c in encoder["categories"][name]]
        else:
            columns.append([float(r[name]) for r in rows])
    return np.array(columns, np.float32).T


def apply_step(step: dict, x: np.ndarray) -> np.ndarray:
    name, config, state = step["name"], step["config"], step["state"]
    if name in ("standardize", "minmax"):
        return (x - state["shift"]) / state["scale"]
    if name == "rescale":
        return x * np.float32(config["scale"]) + np.float32(config["offset"])
    raise AssertionError(f"step {name} is not used here")


def undo_step(step: dict, y: np.ndarray) -> np.ndarray:
    assert step["name"] == "standardize"
    # a one-column target's shift and scale are scalars: a JSON number or a 0-d dataset (the document says so)
    return y * np.float64(step["state"]["scale"]) + np.float64(step["state"]["shift"])


ACTIVATIONS = {
    "linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
    "softmax": lambda z: np.exp(z - z.max(axis=-1, keepdims=True)) / np.exp(z - z.max(axis=-1, keepdims=True)).sum(
        axis=-1, keepdims=True),
}


def predict_by_hand(checkpoint: Path, rows: list[dict]) -> tuple[list, np.ndarray]:
    """(what the prediction column holds, the model output) for raw CSV rows."""
    with h5py.File(checkpoint, "r") as f:
        model = json.loads(f.attrs["model_config"])
        weights = {layer: {p: f["weights"][layer][p][()] for p in f["weights"][layer]} for layer in f["weights"]}
        pre = read_tree(f["preprocessing"])
    assert pre["format"] == "nntrain.preprocessor/1"
    pipeline = pre["inputs"][pre["input_order"][0]]
    assert pipeline["kind"] == "table"
    x = encode_table(pipeline["encoder"], rows)
    for step in pipeline["steps"]:
        x = apply_step(step, x)
    values = {model["inputs"][0]["name"]: x}
    for layer in model["layers"]:
        assert layer["class_name"] == "Dense"
        config, w = layer["config"], weights[layer["config"]["name"]]
        activation = config["activation"] if isinstance(config["activation"], str) else config["activation"]["name"]
        values[config["name"]] = ACTIVATIONS[activation](values[layer["inbound"][0]] @ w["kernel"] + w["bias"])
    out = values[model["outputs"][0]]
    target = pre["outputs"][pre["output_order"][0]]
    if target["encoder"]["task"] == "regression":
        y = out.astype(np.float64)
        for step in reversed(target["steps"]):
            y = undo_step(step, y)
        return list(y[:, 0]), out
    return [target["encoder"]["class_names"][i] for i in out.argmax(axis=1)], out


def _predicted(root: Path, run: str, *options) -> list[dict]:
    r = invoke("predict", root / "runs" / run, root / "new.csv", *options, "-o", "-")
    assert r.returncode == 0, r.stderr
    return list(csv.DictReader(io.StringIO(r.stdout)))


def test_a_classifier_rebuilt_from_the_document_predicts_what_nntrain_predicts(trained):
    rows = list(csv.DictReader(io.StringIO(NEW)))
    names, probs = predict_by_hand(trained / "runs" / "classes" / "checkpoints" / "last.h5", rows)
    printed = _predicted(trained, "classes", "--proba")
    assert names == [r["prediction"] for r in printed]
    classes = sorted({"cat", "dog", "bird"})  # text labels: sorted, label i is class i
    np.testing.assert_allclose(probs, [[float(r[f"p_{c}"]) for c in classes] for r in printed], rtol=1e-5,
                               atol=1e-7)
    assert len(set(names)) > 1  # the rows are told apart: the test can fail


def test_a_regression_rebuilt_from_the_document_predicts_in_the_targets_units(trained):
    rows = list(csv.DictReader(io.StringIO(NEW)))
    values, raw = predict_by_hand(trained / "runs" / "values" / "checkpoints" / "last.h5", rows)
    printed = [float(r["prediction"]) for r in _predicted(trained, "values")]
    np.testing.assert_allclose(values, printed, rtol=1e-5)
    assert not np.allclose(raw[:, 0], printed, rtol=0.1)  # the standardized output alone is not the answer
    assert 60 < min(printed) and max(printed) < 260  # prices, in the training targets' range
