"""The engine's layers as ONNX nodes, with the masks that Embedding(mask_zero=True) starts.

    tensor, mask = layer_nodes(b, model.get_layer("dense"), [x])   # the layer's output tensor and its mask

Every layer computes what its inference-mode `forward` (or `forward_masked`) computes, in the model's dtype, with
the same order of operations where the engine's float32 rounding could tell (BatchNormalization folds its
statistics exactly as `forward` does). A mask travels as the engine's does: a layer that `passes_mask` keeps it,
a recurrent layer keeps it with return_sequences, anything else ends it. The recurrent layers are in
onnx_recurrent.py (ONNX's own RNN/LSTM/GRU operators, or a Scan over the steps where a mask is read), convolutions,
poolings and LayerNormalization in onnx_spatial.py (ONNX's own operators, channels first).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nntrain.errors import ConfigError
from nntrain.interop.onnx_graph import GraphBuilder, activation_nodes
from nntrain.interop.onnx_recurrent import bidirectional_nodes, recurrent_nodes
from nntrain.interop.onnx_spatial import SPATIAL_OPS

RECURRENT = ("SimpleRNN", "LSTM", "GRU", "Bidirectional")


# --- layers ----------------------------------------------------------------------------------------------
def _dense(b: GraphBuilder, layer, xs: list[str]) -> str:
    # the activation is always applied: predict_on_batch applies it too where training fused it with the loss
    z = b.op("MatMul", [xs[0], b.const(f"{layer.name}/kernel", layer.params["kernel"])], f"{layer.name}/matmul")
    if layer.use_bias:
        z = b.op("Add", [z, b.const(f"{layer.name}/bias", layer.params["bias"])], f"{layer.name}/bias_add")
    return activation_nodes(b, layer.activation, z, layer.params["kernel"].dtype, layer.name)


def _activation(b: GraphBuilder, layer, xs: list[str]) -> str:
    return activation_nodes(b, layer.activation, xs[0], layer.dtype, layer.name)


def _batch_norm(b: GraphBuilder, layer, xs: list[str]) -> str:
    # inference form, as forward computes it: (x - moving_mean) * (gamma / sqrt(moving_variance + epsilon)) + beta
    t = layer.state["moving_mean"].dtype.type
    inv = 1 / np.sqrt(layer.state["moving_variance"] + t(layer.epsilon))
    scale = inv if "gamma" not in layer.params else inv * layer.params["gamma"]
    y = b.op("Sub", [xs[0], b.const(f"{layer.name}/moving_mean", layer.state["moving_mean"])], f"{layer.name}/centred")
    y = b.op("Mul", [y, b.const(f"{layer.name}/scale", scale)], f"{layer.name}/scaled")
    if layer.center:
        y = b.op("Add", [y, b.const(f"{layer.name}/beta", layer.params["beta"])], f"{layer.name}/shifted")
    return y


def _embedding(b: GraphBuilder, layer, xs: list[str]) -> str:
    # ids may come as floats (a float Input): truncated to int64 as forward's astype does
    ids = b.op("Cast", [xs[0]], f"{layer.name}/ids", to=b.onnx.TensorProto.INT64)
    return b.op("Gather", [b.const(f"{layer.name}/embeddings", layer.params["embeddings"]), ids], layer.name, axis=0)


def _reshape(b: GraphBuilder, layer, xs: list[str]) -> str:
    shape = np.asarray([-1, *layer.output_shape], np.int64)  # every per-example size is known: -1 is the batch
    return b.op("Reshape", [xs[0], b.const(f"{layer.name}/shape", shape)], layer.name)


def _concatenate(b: GraphBuilder, layer, xs: list[str]) -> str:
    return b.op("Concat", xs, layer.name, axis=layer.axis)  # both count the batch axis


def _average_steps(b: GraphBuilder, layer, x: str, mask: str | None) -> str:
    """GlobalAveragePooling1D: the mean over steps, or with a mask over the real steps (none: zeros)."""
    axes = b.const(f"{layer.name}/axes", np.asarray([1], np.int64))
    if mask is None:
        return b.op("ReduceMean", [x, axes], layer.name, keepdims=0)
    keep = b.op("Unsqueeze", [b.op("Cast", [mask], f"{layer.name}/keep", to=_elem(b, b.model_dtype)),
                              b.const(f"{layer.name}/feature_axis", np.asarray([2], np.int64))], f"{layer.name}/keep3")
    count = b.op("ReduceSum", [keep, axes], f"{layer.name}/count", keepdims=0)
    count = b.op("Max", [count, b.const(f"{layer.name}/one", np.asarray(1, b.model_dtype))], f"{layer.name}/at_least1")
    total = b.op("ReduceSum", [b.op("Mul", [x, keep], f"{layer.name}/kept"), axes], f"{layer.name}/total",
                 keepdims=0)
    return b.op("Div", [total, count], layer.name)


def _elem(b: GraphBuilder, dtype) -> int:
    return b.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


LAYER_OPS: dict[str, Callable] = {
    "Dense": _dense,
    "Activation": _activation,
    "Dropout": lambda b, layer, xs: b.op("Identity", xs, layer.name),  # inference: the identity
    "Flatten": lambda b, layer, xs: b.op("Flatten", xs, layer.name, axis=1),
    "Reshape": _reshape,
    "Concatenate": _concatenate,
    "Add": lambda b, layer, xs: b.op("Sum", xs, layer.name),
    "BatchNormalization": _batch_norm,
    "Embedding": _embedding,
    **SPATIAL_OPS,
}
# the layers that read a mask: (builder, layer, input tensor, mask tensor or None, node name) -> output tensor
MASK_READERS: dict[str, Callable] = {
    "GlobalAveragePooling1D": lambda b, layer, x, mask, name: _average_steps(b, layer, x, mask),
    "SimpleRNN": recurrent_nodes,
    "LSTM": recurrent_nodes,
    "GRU": recurrent_nodes,
    "Bidirectional": bidirectional_nodes,
}


def _output_mask(b: GraphBuilder, layer, x: str, mask: str | None) -> str | None:
    """The mask of the layer's output, as the engine's `output_mask` gives it."""
    if getattr(layer, "mask_zero", False):  # Embedding: id 0 is padding
        ids = b.op("Cast", [x], f"{layer.name}/mask_ids", to=b.onnx.TensorProto.INT64)
        zero = b.op("Equal", [ids, b.const(f"{layer.name}/padding", np.asarray(0, np.int64))], f"{layer.name}/pad")
        return b.op("Not", [zero], f"{layer.name}/mask")
    if mask is None:
        return None
    if vars(type(layer)).get("registered_name") in RECURRENT:
        return mask if layer.return_sequences else None
    return mask if getattr(layer, "passes_mask", False) else None


def layer_nodes(b: GraphBuilder, layer, xs: list[str], mask: str | None = None,
                name: str | None = None) -> tuple[str, str | None]:
    """The nodes of one layer reading the tensors `xs` (and the mask of a single input); returns its output
    tensor's name and its output mask's (None for no mask). `name`: the node's name (a shared layer's later uses
    have their own).

    Raises:
        ConfigError: a layer type (a custom layer) or activation with no ONNX form, naming the layer.
    """
    # the class's own registered name: a subclass is not taken for the layer it extends
    kind = vars(type(layer)).get("registered_name", "")
    if kind in MASK_READERS:
        y = MASK_READERS[kind](b, layer, xs[0], mask, name or layer.name)
    elif kind in LAYER_OPS:
        y = LAYER_OPS[kind](b, layer, xs)
    else:
        raise ConfigError(f"layer `{layer.name}` ({type(layer).__name__}) has no ONNX form; exportable layers: "
                          f"{', '.join([*LAYER_OPS, *MASK_READERS])}", layer=layer.name)
    return y, None if layer.multi_input else _output_mask(b, layer, xs[0], mask)
