"""The layers over images and sequences (channels last) as ONNX nodes: convolutions, poolings, padding, upsampling,
LayerNormalization.

ONNX's Conv and pooling operators read channels first, so each is wrapped in two `Transpose`s; the padding of each
window comes from the layer's own window geometry (`layer.windows(size)`), so 'same' and 'causal' pad exactly as the
engine does (TensorFlow's rule: the smaller half before).
"""

from __future__ import annotations

import numpy as np

from nntrain.interop.onnx_graph import GraphBuilder, activation_nodes


def _channels_first(b: GraphBuilder, x: str, rank: int, hint: str) -> str:
    return b.op("Transpose", [x], f"{hint}/nchw", perm=[0, rank + 1, *range(1, rank + 1)])


def _channels_last(b: GraphBuilder, x: str, rank: int, hint: str) -> str:
    return b.op("Transpose", [x], f"{hint}/nhwc", perm=[0, *range(2, rank + 2), 1])


def _pads(win, rank: int) -> list[int]:
    """ONNX's pads (all begins, then all ends) from a Windows' ((top, bottom), (left, right)) of the last axes."""
    pairs = win.pads[-rank:]
    return [p[0] for p in pairs] + [p[1] for p in pairs]


def _conv(b: GraphBuilder, layer, xs: list[str]) -> str:
    """Conv1D / Conv2D: Conv on channels-first, kernel (*k, in, filters) as ONNX's (filters, in, *k)."""
    rank, name = layer.rank, layer.name
    size = tuple(layer.input_shape[:-1]) if rank == 2 else (1, layer.input_shape[0])
    win = layer.windows(size)
    kernel = layer.params["kernel"]
    weights = [b.const(f"{name}/kernel", np.ascontiguousarray(np.transpose(kernel, (rank + 1, rank,
                                                                                    *range(rank)))))]
    if layer.use_bias:
        weights.append(b.const(f"{name}/bias", layer.params["bias"]))
    conv = b.op("Conv", [_channels_first(b, xs[0], rank, name), *weights], f"{name}/conv",
                kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                dilations=list(layer.dilation_rate), pads=_pads(win, rank))
    return activation_nodes(b, layer.activation, _channels_last(b, conv, rank, name), kernel.dtype, name)


def _pool(b: GraphBuilder, layer, xs: list[str]) -> str:
    """MaxPooling1D/2D, AveragePooling2D: padding never wins a maximum; an average counts the real values only."""
    rank, name = layer.rank, layer.name
    size = tuple(layer.input_shape[:-1]) if rank == 2 else (1, layer.input_shape[0])
    win, _ = layer.windows(size)
    attrs = {"kernel_shape": list(layer.pool_size), "strides": list(layer.strides), "pads": _pads(win, rank)}
    if layer.reduce == "max":
        pooled = b.op("MaxPool", [_channels_first(b, xs[0], rank, name)], f"{name}/pool", **attrs)
    else:
        pooled = b.op("AveragePool", [_channels_first(b, xs[0], rank, name)], f"{name}/pool", count_include_pad=0,
                      **attrs)
    return _channels_last(b, pooled, rank, name)


def _global_pool(b: GraphBuilder, layer, xs: list[str]) -> str:
    """GlobalAverage/MaxPooling: ReduceMean / ReduceMax over the spatial axes."""
    axes = b.const(f"{layer.name}/axes", np.arange(1, layer.rank + 1, dtype=np.int64))
    op = "ReduceMean" if layer.reduce == "average" else "ReduceMax"
    return b.op(op, [xs[0], axes], layer.name, keepdims=int(layer.keepdims))


def _zero_padding(b: GraphBuilder, layer, xs: list[str]) -> str:
    (top, bottom), (left, right) = layer.padding
    pads = np.asarray([0, top, left, 0, 0, bottom, right, 0], np.int64)
    return b.op("Pad", [xs[0], b.const(f"{layer.name}/pads", pads)], layer.name)


def _upsampling(b: GraphBuilder, layer, xs: list[str]) -> str:
    """Nearest neighbour, as the engine does it: (b, h, 1, w, 1, c) broadcast to (b, h, sh, w, sw, c), reshaped."""
    (h, w, c), (sh, sw), name = layer.input_shape, layer.size, layer.name
    grid = b.op("Unsqueeze", [xs[0], b.const(f"{name}/axes", np.asarray([2, 4], np.int64))], f"{name}/grid")
    spread = b.op("Expand", [grid, b.const(f"{name}/repeat", np.asarray([1, 1, sh, 1, sw, 1], np.int64))],
                  f"{name}/repeated")
    return b.op("Reshape", [spread, b.const(f"{name}/shape", np.asarray([-1, h * sh, w * sw, c], np.int64))], name)


def _layer_norm(b: GraphBuilder, layer, xs: list[str]) -> str:
    """(x - mean) / sqrt(var + epsilon) * gamma + beta over the layer's axes, in the engine's order of operations."""
    name, x = layer.name, xs[0]
    rank = len(layer.input_shape) + 1
    axes = sorted({a % rank for a in ([layer.axis] if isinstance(layer.axis, int) else layer.axis)})
    dtype = b.model_dtype.type
    bshape = [1, *(layer.input_shape[a - 1] if a in axes else 1 for a in range(1, rank))]
    over = b.const(f"{name}/axes", np.asarray(axes, np.int64))
    centered = b.op("Sub", [x, b.op("ReduceMean", [x, over], f"{name}/mean", keepdims=1)], f"{name}/centered")
    var = b.op("ReduceMean", [b.op("Mul", [centered, centered], f"{name}/sq"), over], f"{name}/var", keepdims=1)
    root = b.op("Sqrt", [b.op("Add", [var, b.const(f"{name}/epsilon", dtype(layer.epsilon))], f"{name}/ve")],
                f"{name}/std")
    y = b.op("Mul", [centered, b.op("Div", [b.const(f"{name}/one", dtype(1)), root], f"{name}/inv")], f"{name}/xhat")
    if layer.scale:
        y = b.op("Mul", [y, b.const(f"{name}/gamma", layer.params["gamma"].reshape(bshape))], f"{name}/scaled")
    if layer.center:
        y = b.op("Add", [y, b.const(f"{name}/beta", layer.params["beta"].reshape(bshape))], f"{name}/shifted")
    return y


SPATIAL_OPS = {
    "Conv1D": _conv,
    "Conv2D": _conv,
    "MaxPooling1D": _pool,
    "MaxPooling2D": _pool,
    "AveragePooling2D": _pool,
    "GlobalAveragePooling2D": _global_pool,
    "GlobalMaxPooling2D": _global_pool,
    "GlobalMaxPooling1D": _global_pool,
    "ZeroPadding2D": _zero_padding,
    "UpSampling2D": _upsampling,
    "LayerNormalization": _layer_norm,
    "SpatialDropout1D": lambda b, layer, xs: b.op("Identity", xs, layer.name),  # inference: the identity
    "SpatialDropout2D": lambda b, layer, xs: b.op("Identity", xs, layer.name),
}
