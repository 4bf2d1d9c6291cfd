"""The engine's layers and activations as ONNX nodes, on a small graph builder.

    b = GraphBuilder(onnx)
    x = b.add_input("input", np.float32, [None, 4])
    y = layer_nodes(b, model.get_layer("dense"), [x])   # the tensor name of the layer's output
    b.add_output(y, "probabilities", np.float32, [None, 3])

Every layer computes what its inference-mode `forward` computes, in the model's dtype, with the same order of
operations where the engine's float32 rounding could tell (BatchNormalization folds its statistics exactly as
`forward` does). docs/export.md lists the ONNX operators of each layer type and activation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nntrain.engine.activations import SELU
from nntrain.errors import ConfigError

OPSET = 19  # Equal on strings (categorical columns) needs 19; ONNX Runtime >= 1.16 runs it


class GraphBuilder:
    """Nodes, constants, inputs and outputs of one ONNX graph, with unique tensor names.

    Args:
        onnx: the imported `onnx` package (imported by the caller, so this module loads without it).
        model_dtype: the engine model's float dtype (its weights' and outputs').
    """

    def __init__(self, onnx, model_dtype=np.float32):
        self.onnx = onnx
        self.model_dtype = np.dtype(model_dtype)
        self.nodes: list = []
        self.initializers: list = []
        self.inputs: list = []
        self.outputs: list = []
        self._names: set[str] = set()

    def fresh(self, hint: str) -> str:
        """A tensor name not used yet: `hint`, else `hint_1`, `hint_2`, ..."""
        name, i = hint, 0
        while name in self._names:
            i += 1
            name = f"{hint}_{i}"
        self._names.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Claim a graph input's or output's exact name before any internal tensor can take it."""
        if name in self._names:
            raise ConfigError(f"two ONNX inputs or outputs would both be named {name!r}; rename one of them")
        self._names.add(name)

    def const(self, hint: str, value) -> str:
        """A constant tensor (an initializer) holding `value` as it is (dtype included)."""
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs) -> str:
        """One node with one output; returns the output's tensor name."""
        out = self.fresh(hint)
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def _value_info(self, name: str, dtype, shape: list):
        elem = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        dims = ["batch" if d is None else int(d) for d in shape]
        return self.onnx.helper.make_tensor_value_info(name, elem, dims)

    def add_input(self, name: str, dtype, shape: list) -> str:
        """A graph input; `shape` starts with None, the dynamic batch dimension."""
        self.reserve(name)
        self.inputs.append(self._value_info(name, dtype, shape))
        return name

    def add_output(self, source: str, name: str, dtype, shape: list) -> None:
        """Expose the tensor `source` as the graph output `name` (an Identity node gives it its name)."""
        self.nodes.append(self.onnx.helper.make_node("Identity", [source], [name], name=name))
        self.outputs.append(self._value_info(name, dtype, shape))

    def graph(self, name: str):
        return self.onnx.helper.make_graph(self.nodes, name, self.inputs, self.outputs, self.initializers)


# --- activations -----------------------------------------------------------------------------------------
def _gelu(b: GraphBuilder, act, x: str, dtype) -> str:
    t = np.dtype(dtype).type
    if act.approximate:  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = b.op("Mul", [b.op("Mul", [x, x], "gelu_x2"), x], "gelu_x3")
        inner = b.op("Add", [x, b.op("Mul", [b.const("gelu_k", t(0.044715)), cube], "gelu_kx3")], "gelu_sum")
        th = b.op("Tanh", [b.op("Mul", [b.const("gelu_c", t(math.sqrt(2 / math.pi))), inner], "gelu_in")], "gelu_th")
        half_x = b.op("Mul", [b.const("gelu_half", t(0.5)), x], "gelu_hx")
        return b.op("Mul", [half_x, b.op("Add", [b.const("gelu_one", t(1)), th], "gelu_1th")], "gelu")
    # x * 0.5 (1 + erf(x / sqrt(2))), the exact normal CDF
    erf = b.op("Erf", [b.op("Div", [x, b.const("gelu_sqrt2", t(math.sqrt(2)))], "gelu_xs")], "gelu_erf")
    cdf = b.op("Mul", [b.const("gelu_half", t(0.5)), b.op("Add", [b.const("gelu_one", t(1)), erf], "gelu_1e")],
               "gelu_cdf")
    return b.op("Mul", [x, cdf], "gelu")


def _swish(b: GraphBuilder, act, x: str, dtype) -> str:
    return b.op("Mul", [x, b.op("Sigmoid", [x], "swish_sigmoid")], "swish")


def _simple(op_type: str, **attrs_of) -> Callable:
    """An activation that is one ONNX operator; attrs_of maps attribute -> function of the activation."""
    def emit(b: GraphBuilder, act, x: str, dtype) -> str:
        return b.op(op_type, [x], op_type.lower(), **{k: f(act) for k, f in attrs_of.items()})
    return emit


ACTIVATION_OPS: dict[str, Callable] = {
    "linear": lambda b, act, x, dtype: x,
    "relu": _simple("Relu"),
    "leaky_relu": _simple("LeakyRelu", alpha=lambda a: a.alpha),
    "elu": _simple("Elu", alpha=lambda a: a.alpha),
    "selu": _simple("Selu", alpha=lambda a: SELU.ALPHA, gamma=lambda a: SELU.SCALE),
    "gelu": _gelu,
    "sigmoid": _simple("Sigmoid"),
    "hard_sigmoid": _simple("HardSigmoid", alpha=lambda a: 1 / 6, beta=lambda a: 0.5),  # Keras 3: relu6(x + 3) / 6
    "tanh": _simple("Tanh"),
    "softmax": _simple("Softmax", axis=lambda a: a.axis),
    "softplus": _simple("Softplus"),
    "softsign": _simple("Softsign"),
    "swish": _swish,
}


def activation_nodes(b: GraphBuilder, act, x: str, dtype, where: str) -> str:
    """The nodes of one activation applied to tensor `x`; `where` names the layer for an error."""
    emit = ACTIVATION_OPS.get(act.name)
    if emit is None:
        raise ConfigError(f"layer `{where}`: activation {act.name!r} has no ONNX form; exportable activations: "
                          f"{', '.join(ACTIVATION_OPS)}", layer=where)
    return emit(b, act, x, dtype)


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
    "GlobalAveragePooling1D": lambda b, layer, xs: b.op(
        "ReduceMean", [xs[0], b.const(f"{layer.name}/axes", np.asarray([1], np.int64))], layer.name, keepdims=0),
}


def layer_nodes(b: GraphBuilder, layer, xs: list[str]) -> str:
    """The nodes of one layer reading the tensors `xs`; returns its output tensor's name.

    Raises:
        ConfigError: a layer type (a custom layer) or activation with no ONNX form, naming the layer.
    """
    # the class's own registered name: a subclass is not taken for the layer it extends
    emit = LAYER_OPS.get(vars(type(layer)).get("registered_name", ""))
    if emit is None:
        raise ConfigError(f"layer `{layer.name}` ({type(layer).__name__}) has no ONNX form; exportable layers: "
                          f"{', '.join(LAYER_OPS)}", layer=layer.name)
    return emit(b, layer, xs)


from nntrain.interop import onnx_layers_more  # noqa: F401  (convolution, pooling, recurrent: added to LAYER_OPS)
