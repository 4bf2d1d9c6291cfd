"""A Keras-saved model read back: its architecture (Sequential or functional) and its weights by layer name, from
a Keras 3 native `.keras` zip or a legacy HDF5 `.h5` file (`model.save("model.h5")`, Keras 2 or 3).

    km = read_keras("model.keras")
    model_section(km)       # an nntrain config's `model:` section (layers Keras and nntrain share; others refused)
    weights_by_name(km)     # {layer: {"kernel": array, ...}}, as nntrain checkpoints key them

Nothing in the file is executed: config.json / the model_config attribute is JSON, the weights are read with h5py.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nntrain.errors import CheckpointError, ConfigError
from nntrain.interop.keras_layers import from_keras, nntrain_weights
from nntrain.interop.keras_write import snake

SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass
class KerasModel:
    """What nntrain reads of a Keras model file.

    Attributes:
        inputs: {"name", "shape" (no batch axis), "dtype"} per model input, in input order.
        layers: {"class_name", "config", "inbound": [names read]} per layer (inputs excluded), in file order.
        outputs: the output layer names. sequential: saved as a Sequential model.
        weights: layer name -> its arrays in Keras's order.
    """

    path: Path
    name: str
    sequential: bool
    inputs: list[dict]
    layers: list[dict]
    outputs: list[str]
    keras_version: str = ""
    weights: dict[str, list[np.ndarray]] = field(default_factory=dict)


def is_keras_file(path: Path) -> bool:
    """Whether `path` is a Keras model file (a .keras zip, or an HDF5 file with a `model_config` attribute)."""
    path = Path(path)
    if path.suffix.lower() == ".keras":
        return True
    if path.suffix.lower() not in (".h5", ".hdf5") or not path.is_file():
        return False
    import h5py

    try:
        with h5py.File(path, "r") as f:  # an nntrain checkpoint has a model_config too, and its format
            return "model_config" in f.attrs and "format" not in f.attrs
    except OSError:
        return False


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_keras(path) -> KerasModel:
    """Read a .keras or legacy .h5 Keras model file.

    Raises:
        CheckpointError: no such file, not a Keras model file, a damaged one, or an architecture that is not a
            Sequential or functional model (a subclassed model saves none).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such Keras model file")
    try:
        if path.suffix.lower() == ".keras":
            return _read_zip(path)
        return _read_legacy(path)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, OSError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path}: not a readable Keras model file ({type(exc).__name__}: {exc})") from None


def _read_zip(path: Path) -> KerasModel:
    import h5py

    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        if "config.json" not in names or "model.weights.h5" not in names:
            raise CheckpointError(f"{path}: a .keras file holds config.json and model.weights.h5; this one has "
                                  f"{', '.join(names) or 'nothing'}")
        config = json.loads(z.read("config.json"))
        meta = json.loads(z.read("metadata.json")) if "metadata.json" in names else {}
        weights_bytes = z.read("model.weights.h5")
    km = _architecture(config, path, str(meta.get("keras_version", "")))
    with h5py.File(io.BytesIO(weights_bytes), "r") as f:
        km.weights = _zip_weights(f, km, config)
    return km


def _zip_weights(f, km: KerasModel, config: dict) -> dict[str, list[np.ndarray]]:
    """model.weights.h5: layers/<snake>[_i]/vars/<j>, counted over the model's layers in config order (inputs too,
    but not a Sequential model's InputLayer)."""
    entries = config["config"]["layers"]
    if km.sequential:
        entries = [e for e in entries if e["class_name"] != "InputLayer"]
    used: dict[str, int] = {}
    weights = {}
    for entry in entries:
        key = snake(entry["class_name"])
        used[key] = used.get(key, -1) + 1
        group = f.get(f"layers/{key if used[key] == 0 else f'{key}_{used[key]}'}/vars")
        if group is None:
            continue
        name = _text(group.attrs.get("name", entry["config"].get("name")))
        arrays = [np.asarray(group[k][()]) for k in sorted(group, key=int)]
        if arrays:
            weights[name] = arrays
    return weights


def _read_legacy(path: Path) -> KerasModel:
    import h5py

    with h5py.File(path, "r") as f:
        if "model_config" not in f.attrs or "format" in f.attrs:
            raise CheckpointError(f"{path}: not a Keras model file (no `model_config` attribute; an nntrain "
                                  f"checkpoint or a weights-only file?)")
        km = _architecture(json.loads(_text(f.attrs["model_config"])), path, _text(f.attrs.get("keras_version", "")))
        root = f["model_weights"] if "model_weights" in f else f
        for layer in root:
            names = [_text(n) for n in root[layer].attrs.get("weight_names", [])]
            if names:
                km.weights[layer] = [np.asarray(root[layer][n][()]) for n in names]
    return km


def _input(config: dict, default_name: str = "input") -> dict:
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    if shape is None:
        raise CheckpointError("an InputLayer without batch_shape")
    dtype = config.get("dtype")
    dtype = dtype if isinstance(dtype, str) else "float32"
    return {"name": str(config.get("name") or default_name), "shape": list(shape[1:]), "dtype": dtype}


def _tensor_names(args) -> list[str]:
    """The layer names a Keras 3 node's call arguments read (keras_history[0] of each tensor, in order)."""
    if isinstance(args, dict):
        if args.get("class_name") == "__keras_tensor__":
            return [args["config"]["keras_history"][0]]
        return [n for v in args.values() for n in _tensor_names(v)]
    if isinstance(args, (list, tuple)):
        return [n for v in args for n in _tensor_names(v)]
    return []


def _inbound(entry: dict) -> list[str]:
    nodes = entry.get("inbound_nodes") or []
    name = entry.get("name") or entry["config"].get("name")
    if len(nodes) != 1:
        raise ConfigError(f"layer `{name}` is called {len(nodes)} times in the Keras graph; nntrain layers are "
                          f"called once (share weights by name instead)", layer=name)
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        return _tensor_names(node.get("args"))
    return [t[0] for t in node]  # Keras 2: [[name, node_index, tensor_index, kwargs], ...]


def _endpoints(value) -> list[str]:
    if value and isinstance(value[0], str):  # one endpoint written flat: [name, 0, 0]
        return [value[0]]
    return [v[0] for v in value]


def _architecture(config: dict, path: Path, version: str) -> KerasModel:
    kind, body = config.get("class_name"), config.get("config") or {}
    if kind == "Sequential":
        inputs, layers, prev = [], [], None
        for entry in body["layers"]:
            if entry["class_name"] == "InputLayer":
                inputs.append(_input(entry["config"]))
                prev = inputs[-1]["name"]
                continue
            if prev is None:  # Keras 2: the first layer carries the input shape
                shape = entry["config"].get("batch_input_shape") or body.get("build_input_shape")
                if shape is None:
                    raise CheckpointError(f"{path}: the Sequential model has no input shape (never built?)")
                inputs.append(_input({"batch_shape": shape, "name": "input"}))
                prev = "input"
            layers.append({"class_name": entry["class_name"], "config": entry["config"], "inbound": [prev]})
            prev = entry["config"]["name"]
        return KerasModel(path, str(body.get("name", "sequential")), True, inputs, layers, [prev], version)
    if kind in ("Functional", "Model"):
        by_name = {e["config"]["name"]: e for e in body["layers"] if e["class_name"] == "InputLayer"}
        inputs = [_input(by_name[n]["config"], n) for n in _endpoints(body["input_layers"])]
        layers = [{"class_name": e["class_name"], "config": e["config"], "inbound": _inbound(e)}
                  for e in body["layers"] if e["class_name"] != "InputLayer"]
        return KerasModel(path, str(body.get("name", "model")), False, inputs, layers,
                          _endpoints(body["output_layers"]), version)
    raise CheckpointError(f"{path}: a {kind} model: nntrain reads Sequential and functional Keras models (a "
                          f"subclassed model saves no architecture)")


def model_section(km: KerasModel) -> dict:
    """The `model:` section of an nntrain config with the Keras model's architecture.

    Raises:
        ConfigError: a layer or argument nntrain has no equivalent for, naming the layer.
    """
    flat = all(len(i["shape"]) == 1 for i in km.inputs) and not any(
        l["class_name"] in ("Embedding", "Reshape") for l in km.layers)
    entries = [from_keras(l["class_name"], l["config"], 1 if flat else None) for l in km.layers]
    if km.sequential:
        (inp,) = km.inputs
        if inp["dtype"] == "float32":
            return {"name": km.name, "input_shape": inp["shape"], "layers": entries}
        first = {"type": "Input", "shape": inp["shape"], "dtype": inp["dtype"], "name": inp["name"]}
        return {"name": km.name, "layers": [first, *entries]}
    inputs = {i["name"]: (i["shape"] if i["dtype"] == "float32" else {"shape": i["shape"], "dtype": i["dtype"]})
              for i in km.inputs}
    for entry, layer in zip(entries, km.layers):
        reads = layer["inbound"]
        entry["inputs"] = reads[0] if len(reads) == 1 else list(reads)
    return {"name": km.name, "inputs": inputs, "layers": entries, "outputs": list(km.outputs)}


def weights_by_name(km: KerasModel) -> dict[str, dict[str, np.ndarray]]:
    """Each layer's arrays by nntrain weight name (kernel, bias, gamma, beta, moving_mean, moving_variance,
    embeddings).

    Raises:
        ConfigError: a layer holding another number of arrays than its configuration has weights.
    """
    layers = {l["config"]["name"]: l for l in km.layers}
    result = {}
    for name, arrays in km.weights.items():
        layer = layers.get(name)
        if layer is not None:
            result[name] = nntrain_weights(layer["class_name"], layer["config"], arrays, name)
    return result


def engine_model(km: KerasModel, seed: int = 0):
    """The engine Model of a Keras file's architecture, with its weights: what `nntrain import` checks before it
    writes a config, and the way to predict with a Keras model in nntrain.

    Raises:
        ConfigError / ShapeError: a layer nntrain cannot build, or weights of another shape than the layer's.
    """
    from nntrain.engine.layers import LAYERS, Input
    from nntrain.engine.model import Model, Node

    section = model_section(km)
    meta = ("type", "inputs")
    layers = [e for e in section["layers"] if e["type"] != "Input"]
    built = [LAYERS.get(e["type"])(**{k: v for k, v in e.items() if k not in meta}) for e in layers]
    inputs = [Input(shape=i["shape"], name=i["name"], dtype=i["dtype"]) for i in km.inputs]
    nodes = [Node(layer, list(l["inbound"])) for layer, l in zip(built, km.layers)]
    model = Model(inputs, nodes, list(km.outputs), name=km.name, seed=seed)
    model.set_weights(weights_by_name(km))
    return model
