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
from nntrain.interop.keras_layers import WEIGHT_PATHS, from_keras, nntrain_weights
from nntrain.interop.keras_write import snake

SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass
class KerasModel:
    """What nntrain reads of a Keras model file.

    Attributes:
        inputs: {"name", "shape" (no batch axis), "dtype"} per model input, in input order.
        layers: {"class_name", "config", "inbound": [names read], "reuses": [[names read], ...]} per layer (inputs
            excluded), in file order; `reuses` lists a shared layer's further calls (node i is named NAME_i).
        outputs: the output node names. sequential: saved as a Sequential model.
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
    entries = [e for e in entries if not _is_mask_op(e)]
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
        arrays = [np.asarray(part[k][()]) for part in _weight_groups(f, group, entry["class_name"])
                  for k in sorted(part, key=int)]
        if arrays:
            weights[name] = arrays
    return weights


def _weight_groups(f, group, class_name: str) -> list:
    """The vars/ groups holding a layer's arrays, in Keras's order (a recurrent layer's are in its cell)."""
    paths = WEIGHT_PATHS.get(class_name)
    return [group] if paths is None else [f[f"{group.parent.name}/{p}/vars"] for p in paths]


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


def node_name(layer: str, index: int = 0) -> str:
    """The nntrain node of a Keras layer's call `index`: the layer's own name for its first, NAME_i after it."""
    return layer if not index else f"{layer}_{index}"


def _tensor_names(args) -> list[str]:
    """The node names a Keras 3 node's call arguments read (keras_history of each tensor, in order)."""
    if isinstance(args, dict):
        if args.get("class_name") == "__keras_tensor__":
            return [node_name(*args["config"]["keras_history"][:2])]
        return [n for v in args.values() for n in _tensor_names(v)]
    if isinstance(args, (list, tuple)):
        return [n for v in args for n in _tensor_names(v)]
    return []


def _inbound(entry: dict) -> list[list[str]]:
    """What each call of the layer reads (a shared layer is called more than once). A call's `mask` argument (the
    NotEqual op Keras writes after an Embedding with mask_zero) is not read: nntrain's masks travel by themselves."""
    nodes = entry.get("inbound_nodes") or []
    name = entry.get("name") or entry["config"].get("name")
    if not nodes:
        raise ConfigError(f"layer `{name}` is never called in the Keras graph", layer=name)
    if isinstance(nodes[0], dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        return [_tensor_names(node.get("args")) for node in nodes]
    return [[node_name(t[0], t[1]) for t in node] for node in nodes]  # Keras 2: [[name, node, tensor, kwargs]]


def _is_mask_op(entry: dict) -> bool:
    """The `ids != 0` Keras writes into a functional model for an Embedding's mask (not a layer: no weights)."""
    return entry["class_name"] == "NotEqual" and str(entry.get("module", "")).startswith("keras.src.ops")


def _endpoints(value) -> list[str]:
    if value and isinstance(value[0], str):  # one endpoint written flat: [name, 0, 0]
        return [node_name(value[0], value[1] if len(value) > 1 else 0)]
    return [node_name(v[0], v[1] if len(v) > 1 else 0) for v in value]


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
        layers = [{"class_name": e["class_name"], "config": e["config"], "inbound": calls[0], "reuses": calls[1:]}
                  for e in body["layers"] if e["class_name"] != "InputLayer" and not _is_mask_op(e)
                  for calls in [_inbound(e)]]
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
    layers = []
    for entry, layer in zip(entries, km.layers):
        calls = [layer["inbound"], *layer.get("reuses", [])]
        for i, reads in enumerate(calls):
            node = entry if i == 0 else {"name": node_name(entry["name"], i), "reuse": entry["name"]}
            node["inputs"] = reads[0] if len(reads) == 1 else list(reads)
            layers.append(node)
    return {"name": km.name, "inputs": inputs, "layers": layers, "outputs": list(km.outputs)}


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
    layers = [e for e in section["layers"] if e.get("type", "Input") != "Input"]
    built = [_build(LAYERS.get(e["type"]), e, meta) for e in layers]
    inputs = [Input(shape=i["shape"], name=i["name"], dtype=i["dtype"]) for i in km.inputs]
    nodes = [Node(layer, list(reads), node_name(layer.name, i)) for layer, l in zip(built, km.layers)
             for i, reads in enumerate([l["inbound"], *l.get("reuses", [])])]
    model = Model(inputs, nodes, list(km.outputs), name=km.name, seed=seed)
    model.set_weights(weights_by_name(km))
    return model


def _build(cls, entry: dict, meta: tuple):
    """One engine layer; an argument its constructor refuses is named with the layer."""
    try:
        return cls(**{k: v for k, v in entry.items() if k not in meta})
    except ConfigError as exc:
        raise ConfigError(f"layer `{entry['name']}` ({entry['type']}): {exc}", layer=entry["name"]) from None
