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

from nntrain.interop.keras_layers import WEIGHT_ORDER, keras_weights, to_keras
from nntrain.runs.folder import atomic_file

KERAS_VERSION = "3.15.1"  # the Keras release whose file layout this follows (benchmarks/keras_roundtrip.py checks it)


def snake(class_name: str) -> str:
    """Keras's object names in a weights file: BatchNormalization -> batch_normalization, InputLayer -> input_layer,
    GlobalAveragePooling1D -> global_average_pooling1d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", class_name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def keras_order(inbound: dict[str, list[str]], outputs: list[str]) -> list[str]:
    """The layer order a Keras functional model derives from its graph (keras.src.ops.function.map_graph): depth
    first from the outputs, then by decreasing depth (the longest path to an output), ties by first visit.

    Args:
        inbound: every layer name (inputs included, with []) -> the names it reads, in order.
        outputs: the output layer names, in order.
    """
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
    for name in reversed(finished):
        d = depth.setdefault(name, 0)
        for parent in inbound[name]:
            depth[parent] = max(depth.get(parent, 0), d + 1)
    return sorted(finished, key=lambda n: (-depth[n], first_seen[n]))


def _shape(shape) -> list:
    return [None, *shape]


def _tensor(name: str, shape, dtype: str = "float32") -> dict:
    return {"class_name": "__keras_tensor__", "config": {"shape": _shape(shape), "dtype": dtype,
                                                         "keras_history": [name, 0, 0]}}


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
    for node in (n for n in model.nodes if n.layer.name not in model.input_names):
        if prev is None or node.inbound != [prev]:
            return False
        prev = node.layer.name
    return model.output_names == [prev]


def keras_config(model) -> tuple[dict, list]:
    """(config.json's content, the layers in the order of the weights file) for an engine model."""
    nodes = {n.layer.name: n for n in model.nodes}
    if is_chain(model):
        layers = [n.layer for n in model.nodes if n.layer.name not in model.input_names]
        config = {"module": "keras", "class_name": "Sequential",
                  "config": {"name": model.name, "trainable": True, "dtype": "float32",
                             "layers": [_input_entry(model.inputs[0]), *(_layer_entry(l) for l in layers)]},
                  "registered_name": None, "build_config": {"input_shape": _shape(model.inputs[0].shape)}}
        return config, layers
    order = keras_order({name: list(n.inbound) for name, n in nodes.items()}, list(model.output_names))
    entries = []
    for name in order:
        node = nodes[name]
        if name in model.input_names:
            entries.append({**_input_entry(node.layer), "name": name, "inbound_nodes": []})
            continue
        shapes = [nodes[p].layer.output_shape for p in node.inbound]
        dtypes = [getattr(nodes[p].layer, "input_dtype", "float32") for p in node.inbound]
        tensors = [_tensor(p, s, d) for p, s, d in zip(node.inbound, shapes, dtypes)]
        args = [tensors] if node.layer.multi_input else tensors
        entries.append({**_layer_entry(node.layer), "name": name, "inbound_nodes": [{"args": args, "kwargs": {}}]})
    config = {"module": "keras.src.models.functional", "class_name": "Functional",
              "config": {"name": model.name, "trainable": True, "layers": entries,
                         "input_layers": [[n, 0, 0] for n in model.input_names],
                         "output_layers": [[n, 0, 0] for n in model.output_names]},
              "registered_name": "Functional"}
    return config, [nodes[n].layer for n in order]


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
            vars_ = group.create_group(path).create_group("vars")
            vars_.attrs["name"] = layer.name
            for j, array in enumerate(keras_weights(layer)):
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
            keys = [k for k in WEIGHT_ORDER.get(type(layer).registered_name, ()) if k in layer.get_weights()]
            names = [f"{model.name}/{layer.name}/{k}" for k in keys]
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
