"""An engine model as a Keras 3 native `.keras` file: a zip of config.json (the architecture, as Keras serializes
it), metadata.json (versions, and where the model came from) and model.weights.h5 (each layer's arrays); or as the
legacy HDF5 `.h5` file of the textbook's `model.save("model.h5")` (root attributes model_config and keras_version,
weights under model_weights/<layer>/ named by each group's `weight_names`).

Keras finds a layer's weights by position, not by name: model.weights.h5 holds `layers/<class in snake case>[_i]/
vars/<j>`, counted over the model's layers in Keras's order. So the layers are written in the order Keras itself
derives from the graph on loading (`keras_order`), and each layer's arrays in Keras's order (keras_layers.py).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from nntrain.interop.keras_layers import keras_weights, to_keras
from nntrain.interop.keras_layers_more import legacy_weight_names, weight_groups
from nntrain.runs.folder import atomic_file

KERAS_VERSION = "3.15.1"  # the Keras release whose file layout this follows (benchmarks/keras_roundtrip.py checks it)


def snake(class_name: str) -> str:
    """Keras's object names in a weights file: BatchNormalization -> batch_normalization, InputLayer -> input_layer,
    GlobalAveragePooling1D -> global_average_pooling1d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", class_name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def keras_order(inbound: dict[str, list[str]], outputs: list[str], layer_of: dict[str, str] | None = None) -> list[str]:
    """The layer order a Keras functional model derives from its graph (keras.src.ops.function.map_graph): depth
    first from the outputs, then by decreasing depth (the longest path to an output), ties by first visit.

    Args:
        inbound: every node name (inputs included, with []) -> the names it reads, in order.
        outputs: the output node names, in order.
        layer_of: node name -> its layer's name, where they differ (a shared layer's further nodes); a layer takes
            the greatest depth of its nodes and its first node's place.
    """
    layer_of = layer_of or {}
    first_seen: dict[str, int] = {}
    finished: list[str] = []

    def visit(name: str) -> None:
        if name in first_seen:
            return
        first_seen[name] = len(first_seen)
        for parent in inbound[name]:
            visit(parent)
        finished.append(name)

    for out in outputs:
        visit(out)
    depth: dict[str, int] = {}
    layer_depth: dict[str, int] = {}
    layer_seen: dict[str, int] = {}
    for name in first_seen:
        layer_seen.setdefault(layer_of.get(name, name), len(layer_seen))
    for name in reversed(finished):
        layer = layer_of.get(name, name)
        d = max(depth.setdefault(name, 0), layer_depth.get(layer, 0))
        depth[name] = layer_depth[layer] = d
        for parent in inbound[name]:
            depth[parent] = max(depth.get(parent, 0), d + 1)
    return sorted(layer_depth, key=lambda n: (-layer_depth[n], layer_seen[n]))


def _shape(shape) -> list:
    return [None, *shape]


def _tensor(history: list, shape, dtype: str = "float32") -> dict:
    return {"class_name": "__keras_tensor__", "config": {"shape": _shape(shape), "dtype": dtype,
                                                         "keras_history": history}}


def _input_entry(inp) -> dict:
    # a multi-hot (sparse) input is a dense 0/1 vector to Keras: its backends do not all take sparse tensors
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": _shape(inp.shape), "dtype": inp.input_dtype, "sparse": False,
                       "name": inp.name},
            "registered_name": None}


def _layer_entry(layer) -> dict:
    mapped = to_keras(layer)
    shape = layer.input_shape
    built = [_shape(s) for s in shape] if isinstance(shape, list) else _shape(shape)
    return {"module": "keras.layers", **mapped, "registered_name": None, "build_config": {"input_shape": built}}


def is_chain(model) -> bool:
    """Whether the model is a Sequential one: one input, each layer reading the one before, one output."""
    prev = model.input_names[0] if len(model.input_names) == 1 else None
    seen = set()
    for node in (n for n in model.nodes if n.layer.name not in model.input_names):
        if prev is None or node.inbound != [prev] or node.layer.name in seen:  # a shared layer: functional
            return False
        prev = node.name
        seen.add(node.layer.name)
    return model.output_names == [prev]


def _endpoints(histories: list) -> list:
    """A model's inputs or outputs as Keras writes them: one alone flat ([name, 0, 0]), several as a list."""
    return histories[0] if len(histories) == 1 else histories


def keras_config(model) -> tuple[dict, list]:
    """(config.json's content, the layers in the order of the weights file) for an engine model."""
    if is_chain(model):
        layers = [n.layer for n in model.nodes if n.layer.name not in model.input_names]
        config = {"module": "keras", "class_name": "Sequential",
                  "config": {"name": model.name, "trainable": True, "dtype": "float32",
                             "layers": [_input_entry(model.inputs[0]), *(_layer_entry(l) for l in layers)]},
                  "registered_name": None, "build_config": {"input_shape": _shape(model.inputs[0].shape)}}
        return config, layers
    nodes = {n.name: n for n in model.nodes}
    calls: dict[str, list] = {}  # layer name -> its nodes, Keras's call order: the one named as the layer first
    for node in sorted(model.nodes, key=lambda n: n.name != n.layer.name):
        calls.setdefault(node.layer.name, []).append(node)
    history = {n.name: [layer, i, 0] for layer, ns in calls.items() for i, n in enumerate(ns)}
    layer_of = {name: h[0] for name, h in history.items() if h[0] != name}
    order = keras_order({name: list(n.inbound) for name, n in nodes.items()}, list(model.output_names), layer_of)
    entries = []
    for name in order:
        layer = calls[name][0].layer
        if name in model.input_names:
            entries.append({**_input_entry(layer), "name": name, "inbound_nodes": []})
            continue
        inbound_nodes = []
        for node in calls[name]:
            tensors = [_tensor(history[p], nodes[p].layer.output_shape, getattr(nodes[p].layer, "input_dtype",
                                                                               "float32")) for p in node.inbound]
            inbound_nodes.append({"args": [tensors] if layer.multi_input else tensors, "kwargs": {}})
        entries.append({**_layer_entry(layer), "name": name, "inbound_nodes": inbound_nodes})
    config = {"module": "keras.src.models.functional", "class_name": "Functional",
              "config": {"name": model.name, "trainable": True, "layers": entries,
                         "input_layers": _endpoints([history[n] for n in model.input_names]),
                         "output_layers": _endpoints([history[n] for n in model.output_names])},
              "registered_name": "Functional"}
    return config, [calls[n][0].layer for n in order]


def _weights_file(model, layers: list) -> bytes:
    """model.weights.h5 as Keras writes it: layers/<snake>[_i]/vars/<j>, in the order of `layers`."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        group = f.create_group("layers")
        used: dict[str, int] = {}
        for layer in layers:
            cls = "InputLayer" if layer.name in model.input_names else type(layer).registered_name
            key = snake(cls)
            used[key] = used.get(key, -1) + 1
            path = key if used[key] == 0 else f"{key}_{used[key]}"
            for sub, arrays in weight_groups(layer):  # vars/, or a recurrent layer's cell/vars/ too
                vars_ = group.create_group(f"{path}/{sub}")
                vars_.attrs["name"] = layer.name
                for j, array in enumerate(arrays):
                    vars_.create_dataset(str(j), data=array)
        f.create_group("vars").attrs["name"] = model.name
    return buf.getvalue()


def write_keras(path: Path, model, provenance: dict) -> dict:
    """Write `model` to `path` (.keras); provenance (nntrain version, source run, checkpoint, epoch) goes into
    metadata.json under "nntrain". Returns what was written: {"layers": [...], "keras_version", "class_name"}.

    Raises:
        ConfigError: a layer Keras cannot express (keras_layers.to_keras); StorageError: the file cannot be written.
    """
    config, layers = keras_config(model)
    weights = _weights_file(model, layers)
    metadata = {"keras_version": KERAS_VERSION, "date_saved": provenance.get("created", ""), "nntrain": provenance}
    with atomic_file(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps(metadata, indent=1))
        z.writestr("config.json", json.dumps(config, default=_plain))
        z.writestr("model.weights.h5", weights)
    return _written(model, config, layers)


def write_h5(path: Path, model, provenance: dict) -> dict:
    """Write `model` to `path` in Keras's legacy HDF5 layout (Keras 3 loads it by layer order, as it wrote it);
    provenance goes into the root attribute `nntrain` (JSON). Returns what `write_keras` returns."""
    import h5py

    config, layers = keras_config(model)
    with atomic_file(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["model_config"] = json.dumps(config, default=_plain)
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["nntrain"] = json.dumps(provenance)
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [layer.name for layer in layers]
        group.attrs["keras_version"], group.attrs["backend"] = KERAS_VERSION, "tensorflow"
        for layer in layers:
            layer_group = group.create_group(layer.name)
            arrays = keras_weights(layer)
            names = [f"{model.name}/{layer.name}/{k}" for k in legacy_weight_names(layer)]
            layer_group.attrs["weight_names"] = names
            for name, array in zip(names, arrays):
                layer_group.create_dataset(name, data=array)
        group.create_group("top_level_model_weights").attrs["weight_names"] = []
    return _written(model, config, layers)


def _written(model, config: dict, layers: list) -> dict:
    return {"class_name": config["class_name"], "keras_version": KERAS_VERSION,
            "layers": [[l.name, to_keras(l)["class_name"] if l.name not in model.input_names else "InputLayer"]
                       for l in layers]}


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")
