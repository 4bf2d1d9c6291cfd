"""The layers over images and sequences (channels last) as ONNX nodes: convolutions, poolings, padding, upsampling,
LayerNormalization (entries of onnx_layers.py's LAYER_OPS).

The engine's images are channels_last (batch, height, width, channels); ONNX's Conv, MaxPool and AveragePool read
channels first, so each of them sits between two Transposes. A 1-D layer is its 2-D twin on an image of height 1
(Unsqueeze / Squeeze), as in the engine. Padding is written out as the engine computes it (windows.py: 'same' puts
the smaller half before, 'causal' everything before), never as ONNX's auto_pad.
"""

from __future__ import annotations

import numpy as np

from nntrain.errors import ConfigError
from nntrain.interop.onnx_graph import GraphBuilder, activation_nodes

NCHW, NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def _axes(b: GraphBuilder, hint: str, axes) -> str:
    return b.const(hint, np.asarray(axes, np.int64))


def _image(b: GraphBuilder, layer, x: str) -> tuple[str, tuple]:
    """x as a channels_first image (batch, channels, height, width), and its spatial size (height, width)."""
    size = tuple(layer.input_shape[:-1])
    if None in size:
        raise ConfigError(f"layer `{layer.name}` ({type(layer).__name__}): ONNX export needs inputs of known size, "
                          f"got {list(layer.input_shape)}", layer=layer.name)
    if layer.rank == 1:
        x, size = b.op("Unsqueeze", [x, _axes(b, f"{layer.name}/height", [1])], f"{layer.name}/image"), (1, *size)
    return b.op("Transpose", [x], f"{layer.name}/nchw", perm=NCHW), size


def _back(b: GraphBuilder, layer, y: str) -> str:
    """A channels_first result back to the engine's layout (and to a sequence for a 1-D layer)."""
    y = b.op("Transpose", [y], f"{layer.name}/nhwc", perm=NHWC)
    if layer.rank == 1:
        y = b.op("Squeeze", [y, _axes(b, f"{layer.name}/height_axis", [1])], f"{layer.name}/steps")
    return y


def _pads(win) -> list[int]:
    (top, bottom), (left, right) = win.pads
    return [top, left, bottom, right]


def _conv(b: GraphBuilder, layer, xs: list[str]) -> str:
    x, size = _image(b, layer, xs[0])
    win = layer.windows(size)
    kernel = layer.params["kernel"]
    if layer.rank == 1:
        kernel = kernel[None]  # (1, width, channels, filters)
    w = b.const(f"{layer.name}/kernel", np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))  # (F, C, kh, kw)
    inputs = [x, w] + ([b.const(f"{layer.name}/bias", layer.params["bias"])] if layer.use_bias else [])
    z = b.op("Conv", inputs, f"{layer.name}/conv", kernel_shape=list(win.kernel), strides=list(win.strides),
             dilations=list(win.dilation), pads=_pads(win))
    return activation_nodes(b, layer.activation, _back(b, layer, z), kernel.dtype, layer.name)


def _pool(b: GraphBuilder, layer, xs: list[str]) -> str:
    x, size = _image(b, layer, xs[0])
    win, _ = layer.windows(size)
    attrs = {"kernel_shape": list(win.kernel), "strides": list(win.strides), "pads": _pads(win)}
    if layer.reduce == "max":
        y = b.op("MaxPool", [x], f"{layer.name}/max", **attrs)  # padding never wins, as in the engine
    else:
        y = b.op("AveragePool", [x], f"{layer.name}/mean", count_include_pad=0, **attrs)  # over real values only
    return _back(b, layer, y)


def _global_pool(b: GraphBuilder, layer, xs: list[str]) -> str:
    axes = [1] if layer.rank == 1 else [1, 2]
    op = "ReduceMax" if layer.reduce == "max" else "ReduceMean"
    return b.op(op, [xs[0], _axes(b, f"{layer.name}/axes", axes)], layer.name, keepdims=int(layer.keepdims))


def _layer_norm(b: GraphBuilder, layer, xs: list[str]) -> str:
    """ONNX's LayerNormalization where the normalized axes are the last ones; else its formula, as forward has it."""
    rank = len(layer.input_shape) + 1
    axes, dtype = list(layer._axes), layer.dtype
    shape = [layer.input_shape[a - 1] for a in axes]
    gamma = layer.params["gamma"] if layer.scale else np.ones(shape, dtype)
    beta = layer.params["beta"] if layer.center else np.zeros(shape, dtype)
    if axes == list(range(axes[0], rank)):
        return b.op("LayerNormalization", [xs[0], b.const(f"{layer.name}/gamma", gamma),
                                           b.const(f"{layer.name}/beta", beta)], layer.name, axis=axes[0],
                    epsilon=layer.epsilon)
    bshape = [d if i in axes else 1 for i, d in enumerate([1, *layer.input_shape])]
    ax = _axes(b, f"{layer.name}/axes", axes)
    centred = b.op("Sub", [xs[0], b.op("ReduceMean", [xs[0], ax], f"{layer.name}/mean")], f"{layer.name}/centred")
    var = b.op("ReduceMean", [b.op("Mul", [centred, centred], f"{layer.name}/sq"), ax], f"{layer.name}/var")
    var = b.op("Add", [var, b.const(f"{layer.name}/epsilon", dtype.type(layer.epsilon))], f"{layer.name}/var_eps")
    inv = b.op("Reciprocal", [b.op("Sqrt", [var], f"{layer.name}/std")], f"{layer.name}/inv")
    y = b.op("Mul", [b.op("Mul", [centred, inv], f"{layer.name}/xhat"),
                     b.const(f"{layer.name}/gamma", gamma.reshape(bshape))], f"{layer.name}/scaled")
    return b.op("Add", [y, b.const(f"{layer.name}/beta", beta.reshape(bshape))], layer.name)


def _zero_padding(b: GraphBuilder, layer, xs: list[str]) -> str:
    (top, bottom), (left, right) = layer.padding
    pads = np.asarray([0, top, left, 0, 0, bottom, right, 0], np.int64)
    return b.op("Pad", [xs[0], b.const(f"{layer.name}/pads", pads)], layer.name, mode="constant")


def _up_sampling(b: GraphBuilder, layer, xs: list[str]) -> str:
    """Nearest neighbour, exactly: (b, h, w, c) -> (b, h, 1, w, 1, c), broadcast to (b, h, sh, w, sw, c), merged."""
    (h, w, c), (sh, sw) = layer.input_shape, layer.size
    y = b.op("Unsqueeze", [xs[0], _axes(b, f"{layer.name}/axes", [2, 4])], f"{layer.name}/spread")
    y = b.op("Expand", [y, b.const(f"{layer.name}/repeat", np.asarray([1, 1, sh, 1, sw, 1], np.int64))],
             f"{layer.name}/repeated")
    return b.op("Reshape", [y, b.const(f"{layer.name}/shape", np.asarray([-1, h * sh, w * sw, c], np.int64))],
                layer.name)


SPATIAL_OPS = {
    "Conv1D": _conv, "Conv2D": _conv,
    "MaxPooling1D": _pool, "MaxPooling2D": _pool, "AveragePooling2D": _pool,
    "GlobalAveragePooling2D": _global_pool, "GlobalMaxPooling1D": _global_pool, "GlobalMaxPooling2D": _global_pool,
    "SpatialDropout1D": lambda b, layer, xs: b.op("Identity", xs, layer.name),  # inference: the identity
    "SpatialDropout2D": lambda b, layer, xs: b.op("Identity", xs, layer.name),
    "LayerNormalization": _layer_norm,
    "ZeroPadding2D": _zero_padding,
    "UpSampling2D": _up_sampling,
}
