"""A trained run as one ONNX model that ONNX Runtime serves, its preprocessing folded in by default.

    info = export_onnx(load_trained("runs/iris"), "iris.onnx")      # raw feature values in, class names out
    info = export_onnx("runs/iris", "iris.onnx", preprocessing=False)  # model inputs in, model outputs out

Opset 19 of the default domain only (no ai.onnx.ml), IR version 9: ONNX Runtime 1.16 and later run it. Every input
and output has a dynamic batch dimension "batch". The model's metadata_props say where it came from (nntrain
version, run, checkpoint and its epoch) and describe each input and output (JSON), class names included.
What the graph computes for each layer and preprocessing step: docs/export.md; the inputs and outputs with
preprocessing: nntrain/interop/onnx_preprocessing.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nntrain import __version__
from nntrain.engine.layers import Input
from nntrain.errors import NNTrainError
from nntrain.interop.onnx_graph import OPSET, GraphBuilder
from nntrain.interop.onnx_layers import layer_nodes
from nntrain.interop.onnx_preprocessing import GraphInput, input_nodes, output_nodes
from nntrain.runs.folder import atomic_file
from nntrain.runs.trained import Trained, load_trained

IR_VERSION = 9  # the IR of opset 19: older runtimes that know opset 19 read it


class ExportError(NNTrainError):
    """The model cannot be exported (the onnx package is missing)."""


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ExportError("ONNX export needs the onnx package, which is not installed: "
                          "pip install 'nntrain[onnx]'") from None
    return onnx


def _plain_inputs(b: GraphBuilder, model) -> tuple[dict[str, str], list[GraphInput]]:
    """Graph inputs that are the model's own inputs (preprocessing=False): name, dtype and shape of each Input."""
    feeds, described = {}, []
    for inp in model.inputs:
        dtype = b.model_dtype if inp.input_dtype.startswith("float") else np.dtype(inp.input_dtype)
        shape = [None, *inp.shape]
        feeds[inp.name] = b.add_input(inp.name, dtype, shape)
        described.append(GraphInput(inp.name, dtype.name, shape, inp.name))
    return feeds, described


def _folded_inputs(b: GraphBuilder, trained: Trained, outputs: list[str]) -> tuple[dict[str, str], list[GraphInput]]:
    """Graph inputs of raw feature values, each run through its input's fitted preprocessing; a categorical column
    named like an input or one of the `outputs` gets its input's name as a prefix."""
    model, pre = trained.model, trained.preprocessor
    pipelines = list(pre.inputs.values())
    # one input: the preprocessor names it as the data section does, the model as its Input layer
    by_model_name = {model.input_names[0]: pipelines[0]} if len(pipelines) == 1 else pre.inputs
    feeds, described, taken = {}, [], {*pre.inputs, *outputs}
    for inp in model.inputs:
        feeds[inp.name] = input_nodes(b, by_model_name[inp.name], inp, b.model_dtype, described, taken)
    return feeds, described


def _graph_outputs(b: GraphBuilder, trained: Trained, results: dict[str, str], preprocessing: bool) -> list[dict]:
    """Expose the model's outputs (decoded with preprocessing) as named graph outputs; describe them."""
    model, described = trained.model, []
    if not preprocessing:
        for name in model.output_names:
            shape = [None, *model.shapes[name]]
            b.add_output(results[name], name, b.model_dtype, shape)
            described.append({"name": name, "dtype": b.model_dtype.name, "shape": _shown(shape)})
        return described
    outputs = trained.outputs
    for output, name in zip(outputs, model.output_names):
        prefix = "" if len(outputs) == 1 else f"{output.name}_"
        for tensor, suffix, dtype, shape in output_nodes(b, output, results[name], prefix, model.shapes[name]):
            dtype = b.model_dtype if dtype is None else np.dtype(dtype)
            b.add_output(tensor, prefix + suffix, dtype, shape)
            info = {"name": prefix + suffix, "dtype": "string" if dtype == object else dtype.name,
                    "shape": _shown(shape), "output": output.name, "task": output.task}
            if output.classes is not None:
                info["classes"] = list(output.classes)
            described.append(info)
    return described


def _shown(shape: list) -> list:
    return ["batch" if d is None else int(d) for d in shape]


def _output_names(trained: Trained, preprocessing: bool) -> list[str]:
    """The graph's output names, claimed before any internal tensor is named."""
    model = trained.model
    if not preprocessing:
        return list(model.output_names)
    outputs = trained.outputs
    names = []
    for output in outputs:
        prefix = "" if len(outputs) == 1 else f"{output.name}_"
        names.append(prefix + "prediction")
        if output.classes is not None:
            names.append(prefix + "probabilities")
    return names


def build_onnx(trained: Trained, preprocessing: bool = True):
    """The ONNX ModelProto of a trained run (see the module docstring); checked by onnx.checker.

    Raises:
        ExportError: onnx is not installed. ConfigError: a layer, activation or preprocessing step with no ONNX
            form, naming it.
    """
    onnx = _onnx()
    model = trained.model
    b = GraphBuilder(onnx, model.dtype)
    output_names = _output_names(trained, preprocessing)
    for name in output_names:
        b.reserve(name)
    feeds, inputs = _folded_inputs(b, trained, output_names) if preprocessing else _plain_inputs(b, model)
    results, masks = dict(feeds), {}
    for node in model.nodes:
        if isinstance(node.layer, Input):  # fed above
            continue
        name = node.name  # a shared layer's later uses carry their own name
        mask = None if node.layer.multi_input else masks.get(node.inbound[0])
        results[name], masks[name] = layer_nodes(b, node.layer, [results[r] for r in node.inbound], mask, name)
    outputs = _graph_outputs(b, trained, results, preprocessing)
    graph = b.graph(f"nntrain_{model.name}")
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="nntrain", producer_version=__version__, ir_version=IR_VERSION,
                                   doc_string=_doc(trained, preprocessing))
    onnx.helper.set_model_props(proto, _metadata(trained, preprocessing, [i.describe() for i in inputs], outputs))
    onnx.checker.check_model(proto)
    return proto


def _doc(trained: Trained, preprocessing: bool) -> str:
    how = ("raw feature values in (preprocessing folded in), class names and values in the target's units out"
           if preprocessing else "preprocessed model inputs in, raw model outputs out")
    return f"nntrain {__version__} model from {_source(trained)} (epoch {trained.checkpoint.epoch}): {how}"


def _source(trained: Trained) -> str:
    return str(trained.run_dir if trained.run_dir is not None else trained.checkpoint_path)


def _metadata(trained: Trained, preprocessing: bool, inputs: list[dict], outputs: list[dict]) -> dict[str, str]:
    """metadata_props: provenance, and each input and output described in JSON."""
    meta = {
        "nntrain_version": __version__,
        "source_run": _source(trained),
        "checkpoint": str(trained.checkpoint_path),
        "checkpoint_which": trained.which,
        "checkpoint_epoch": str(trained.checkpoint.epoch),
        "preprocessing": "folded" if preprocessing else "none",
        "inputs": json.dumps(inputs),
        "outputs": json.dumps(outputs),
    }
    for output in trained.outputs:
        if output.classes is not None:
            meta[f"classes.{output.name}"] = json.dumps(list(output.classes))
    if preprocessing:
        for name, pipeline in trained.preprocessor.inputs.items():
            if pipeline.kind == "text":  # the graph takes multi-hot rows or ids: the vocabulary makes them
                meta[f"vocabulary.{name}"] = json.dumps({"first_id": 2, "oov_id": 1, "padding_id": 0,
                                                         "lowercase": pipeline.encoder.lowercase,
                                                         "words": pipeline.encoder.vocabulary})
    return meta


def export_onnx(trained, out_path, *, checkpoint: str = "best", preprocessing: bool = True) -> dict:
    """Write a trained run as an ONNX model file.

    Args:
        trained: a `Trained` (nntrain.runs.trained.load_trained), or a run folder / checkpoint file to load.
        out_path: the .onnx file to write (replaced atomically).
        checkpoint: "best" or "last", when `trained` is a folder to load.
        preprocessing: fold the fitted preprocessing in (raw values in, class names / raw-unit values out);
            False: the graph is the network alone (preprocessed model inputs in, model outputs out).

    Returns:
        What was written: path, bytes, opset, preprocessing, source run, checkpoint and its epoch, and each graph
        input and output (name, dtype, shape; columns, categories and classes where they apply).

    Raises:
        ExportError: onnx is not installed. ConfigError: something with no ONNX form. CheckpointError: see
            `load_trained`. StorageError: the file cannot be written.
    """
    if not isinstance(trained, Trained):
        trained = load_trained(trained, checkpoint)
    proto = build_onnx(trained, preprocessing)
    out_path = Path(out_path)
    with atomic_file(out_path) as tmp:
        tmp.write_bytes(proto.SerializeToString())
    meta = {p.key: p.value for p in proto.metadata_props}
    return {"path": str(out_path), "bytes": out_path.stat().st_size, "format": "onnx", "opset": OPSET,
            "preprocessing": preprocessing, "source_run": meta["source_run"], "checkpoint": meta["checkpoint"],
            "checkpoint_epoch": trained.checkpoint.epoch, "inputs": json.loads(meta["inputs"]),
            "outputs": json.loads(meta["outputs"])}
