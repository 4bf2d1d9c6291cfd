"""SimpleRNN, LSTM, GRU and Bidirectional as ONNX nodes.

Without a mask, each recurrent layer is ONNX's own operator (RNN, LSTM, GRU), which runtimes run fast: the weights
are transposed to ONNX's (gates * units, features), LSTM's gates reordered from Keras's i, f, c, o to ONNX's
i, o, f, c, GRU's z, r, h kept with linear_before_reset=1 (Keras's reset_after) and the bias rows as ONNX's Wb, Rb.
go_backwards is direction="reverse"; a Bidirectional is its two layers and their merge.

With a mask (Embedding(mask_zero=True) before it), or an activation ONNX's operators do not offer, the layer is a
Scan over the steps whose body is the engine's step (recurrent.py, gated.py), with a masked step carrying the state
through unchanged (Where), wherever in the sequence the padding is: ONNX's sequence_lens only describes padding at
the end, and pad_sequences pads in front. Either way the graph does not grow with the number of steps.
"""

from __future__ import annotations

import numpy as np

from nntrain.interop.onnx_graph import GraphBuilder, activation_nodes

# the activations ONNX's recurrent operators take by name, with the engine's functions
NATIVE = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softsign": "Softsign", "softplus": "Softplus"}
ONNX_OP = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
LSTM_GATES = [0, 3, 1, 2]  # Keras's i, f, c, o blocks -> ONNX's i, o, f, c
FIRST = np.iinfo(np.int64).min


def _act(act):
    return getattr(act, "act", act)  # the engine's fast gate sigmoid stands for the registered sigmoid


def _activations(cell) -> list:
    acts = [cell.activation] if type(cell).registered_name == "SimpleRNN" else [cell.recurrent_activation,
                                                                               cell.activation]
    return [_act(a) for a in acts] + ([_act(cell.activation)] if type(cell).registered_name == "LSTM" else [])


def reverse_steps(b: GraphBuilder, x: str, hint: str) -> str:
    """x: (batch, steps, ...) with the steps last to first."""
    return b.op("Slice", [x, b.const(f"{hint}/start", np.asarray([-1], np.int64)),
                          b.const(f"{hint}/end", np.asarray([FIRST], np.int64)),
                          b.const(f"{hint}/axis", np.asarray([1], np.int64)),
                          b.const(f"{hint}/step", np.asarray([-1], np.int64))], hint)


def _native(b: GraphBuilder, cell, params: dict, x: str, hint: str) -> str:
    kind, u = type(cell).registered_name, cell.units
    w, r = params["kernel"].T, params["recurrent_kernel"].T  # (gates * units, features), (gates * units, units)
    if kind == "LSTM":
        w, r = (a.reshape(4, u, -1)[LSTM_GATES].reshape(4 * u, -1) for a in (w, r))
    inputs = [b.op("Transpose", [x], f"{hint}/time_major", perm=[1, 0, 2]),
              b.const(f"{hint}/W", np.ascontiguousarray(w[None])), b.const(f"{hint}/R", np.ascontiguousarray(r[None]))]
    if cell.use_bias:
        bias = params["bias"]
        if kind == "GRU":
            bias = bias.reshape(-1)  # input bias, then recurrent bias: ONNX's Wb, Rb
        else:
            bias = np.concatenate([bias.reshape(-1, u)[LSTM_GATES].reshape(-1) if kind == "LSTM" else bias,
                                   np.zeros_like(bias)])
        inputs.append(b.const(f"{hint}/B", bias[None]))
    attrs = {"hidden_size": u, "direction": "reverse" if cell.go_backwards else "forward",
             "activations": [NATIVE[a.name] for a in _activations(cell)]}
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    out = b.fresh(f"{hint}/{'sequence' if cell.return_sequences else 'state'}")
    outputs = [out] if cell.return_sequences else ["", out]
    b.nodes.append(b.onnx.helper.make_node(ONNX_OP[kind], inputs, outputs, name=out, **attrs))
    if not cell.return_sequences:  # Y_h: (1, batch, units)
        return b.op("Squeeze", [out, b.const(f"{hint}/direction_axis", np.asarray([0], np.int64))], hint)
    y = b.op("Squeeze", [out, b.const(f"{hint}/direction_axis", np.asarray([1], np.int64))], f"{hint}/steps_first")
    y = b.op("Transpose", [y], f"{hint}/batch_first", perm=[1, 0, 2])
    # ONNX gives a reverse layer's outputs in step order; the engine in the order it read them
    return reverse_steps(b, y, hint) if cell.go_backwards else b.op("Identity", [y], hint)


def _split(b: GraphBuilder, x: str, parts: int, units: int, hint: str) -> list[str]:
    outs = [b.fresh(f"{hint}_{i}") for i in range(parts)]
    b.nodes.append(b.onnx.helper.make_node("Split", [x, b.const(f"{hint}/sizes", np.full(parts, units, np.int64))],
                                           outs, name=outs[0], axis=1))
    return outs


def _step(s: GraphBuilder, cell, params: dict, x_t: str, states: list[str], hint: str) -> list[str]:
    """The engine's step (`_step` of recurrent.py and gated.py), in its order of operations: the new states."""
    kind, u, dtype = type(cell).registered_name, cell.units, params["kernel"].dtype
    xw = s.op("MatMul", [x_t, s.const(f"{hint}/kernel", params["kernel"])], f"{hint}/xw")
    hu = s.op("MatMul", [states[0], s.const(f"{hint}/recurrent_kernel", params["recurrent_kernel"])], f"{hint}/hu")
    if cell.use_bias:
        bias = params["bias"]
        xw = s.op("Add", [xw, s.const(f"{hint}/bias", bias[0] if kind == "GRU" else bias)], f"{hint}/xw_b")
        if kind == "GRU":
            hu = s.op("Add", [hu, s.const(f"{hint}/recurrent_bias", bias[1])], f"{hint}/hu_b")

    def act(a, z, name):
        return activation_nodes(s, _act(a), z, dtype, f"{hint}/{name}")

    if kind == "SimpleRNN":
        return [act(cell.activation, s.op("Add", [hu, xw], f"{hint}/z"), "h")]
    if kind == "LSTM":
        zi, zf, zg, zo = _split(s, s.op("Add", [hu, xw], f"{hint}/z"), 4, u, f"{hint}/gates")
        i, f, o = (act(cell.recurrent_activation, z, n) for z, n in ((zi, "i"), (zf, "f"), (zo, "o")))
        c = s.op("Add", [s.op("Mul", [f, states[1]], f"{hint}/fc"), s.op("Mul", [i, act(cell.activation, zg, "g")],
                                                                         f"{hint}/ig")], f"{hint}/c")
        return [s.op("Mul", [o, act(cell.activation, c, "tc")], f"{hint}/h"), c]
    xz, xr, xh = _split(s, xw, 3, u, f"{hint}/x_gates")
    hz, hr, hh = _split(s, hu, 3, u, f"{hint}/h_gates")
    z = act(cell.recurrent_activation, s.op("Add", [xz, hz], f"{hint}/zz"), "z")
    r = act(cell.recurrent_activation, s.op("Add", [xr, hr], f"{hint}/zr"), "r")
    cand = act(cell.activation, s.op("Add", [xh, s.op("Mul", [r, hh], f"{hint}/rh")], f"{hint}/zh"), "hh")
    return [s.op("Add", [cand, s.op("Mul", [z, s.op("Sub", [states[0], cand], f"{hint}/d")], f"{hint}/zd")],
                 f"{hint}/h")]


def _scan(b: GraphBuilder, cell, params: dict, x: str, mask: str | None, hint: str) -> str:
    """The layer as a Scan whose body is one step; a masked step keeps the states it was given."""
    onnx, dtype = b.onnx, params["kernel"].dtype
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    n_states = 2 if type(cell).registered_name == "LSTM" else 1
    s = GraphBuilder(onnx, dtype)
    s._names, s.initializers = b._names, b.initializers  # one namespace; the weights are the outer graph's
    states = [s.fresh(f"{hint}/state{i}_in") for i in range(n_states)]
    x_t = s.fresh(f"{hint}/x_t")
    body_in = [onnx.helper.make_tensor_value_info(n, elem, None) for n in (*states, x_t)]
    new = _step(s, cell, params, x_t, states, hint)
    out_t = new[0]
    if mask is not None:
        m_t = s.fresh(f"{hint}/mask_t")
        body_in.append(onnx.helper.make_tensor_value_info(m_t, onnx.TensorProto.BOOL, None))
        keep = s.op("Unsqueeze", [m_t, s.const(f"{hint}/mask_axis", np.asarray([1], np.int64))], f"{hint}/keep")
        new = [s.op("Where", [keep, n, old], f"{hint}/carried") for n, old in zip(new, states)]
        out_t = new[0]
        if cell.zero_output_for_mask and cell.return_sequences:  # Bidirectional: zeros at masked steps
            out_t = s.op("Where", [keep, new[0], s.const(f"{hint}/zero", np.zeros((), dtype))], f"{hint}/out_t")
    outs = [s.op("Identity", [n], f"{hint}/state{i}_out") for i, n in enumerate(new)]
    outs.append(s.op("Identity", [out_t], f"{hint}/y_t"))
    body = onnx.helper.make_graph(s.nodes, f"{hint}_step", body_in,
                                  [onnx.helper.make_tensor_value_info(n, elem, None) for n in outs])
    batch = b.op("Slice", [b.op("Shape", [x], f"{hint}/x_shape"), b.const(f"{hint}/b0", np.asarray([0], np.int64)),
                           b.const(f"{hint}/b1", np.asarray([1], np.int64))], f"{hint}/batch")
    shape = b.op("Concat", [batch, b.const(f"{hint}/units", np.asarray([cell.units], np.int64))], f"{hint}/shape",
                 axis=0)
    zeros = b.op("ConstantOfShape", [shape], f"{hint}/zeros",
                 value=onnx.numpy_helper.from_array(np.zeros(1, dtype)))
    scanned = [x] if mask is None else [x, mask]
    results = [b.fresh(f"{hint}/final{i}") for i in range(n_states)] + [b.fresh(f"{hint}/outputs")]
    b.nodes.append(onnx.helper.make_node(
        "Scan", [zeros] * n_states + scanned, results, name=results[-1], body=body, num_scan_inputs=len(scanned),
        scan_input_axes=[1] * len(scanned), scan_input_directions=[int(cell.go_backwards)] * len(scanned),
        scan_output_axes=[1]))  # outputs in the order the steps were read, as the engine returns them
    return b.op("Identity", [results[-1] if cell.return_sequences else results[0]], hint)


def _cell_nodes(b: GraphBuilder, cell, params: dict, x: str, mask: str | None, hint: str) -> str:
    """One recurrent layer (`params`: its own, or a Bidirectional's side with the prefix taken off)."""
    native = mask is None and all(a.name in NATIVE for a in _activations(cell))
    return _native(b, cell, params, x, hint) if native else _scan(b, cell, params, x, mask, hint)


def recurrent_nodes(b: GraphBuilder, layer, x: str, mask: str | None, name: str) -> str:
    """A SimpleRNN, LSTM or GRU reading the (batch, steps, features) tensor `x`; `mask`: its (batch, steps) bool
    tensor or None; `name`: the node's name (a shared layer's later uses have their own). Returns the output tensor:
    (batch, steps, units) with return_sequences, else (batch, units)."""
    return _cell_nodes(b, layer, layer.params, x, mask, name)


def bidirectional_nodes(b: GraphBuilder, layer, x: str, mask: str | None, name: str) -> str:
    """Both directions, the backward sequence put back in step order, merged (bidirectional.py)."""
    out = []
    for side, cell in (("forward", layer.forward_layer), ("backward", layer.backward_layer)):
        params = {k[len(side) + 1:]: v for k, v in layer.params.items() if k.startswith(side + "_")}
        out.append(_cell_nodes(b, cell, params, x, mask, f"{name}/{side}"))
    yf, yb = out
    if layer.return_sequences:
        yb = reverse_steps(b, yb, f"{name}/backward_in_order")
    if layer.merge_mode == "concat":
        return b.op("Concat", [yf, yb], name, axis=-1)
    if layer.merge_mode == "mul":
        return b.op("Mul", [yf, yb], name)
    total = b.op("Add", [yf, yb], f"{name}/sum" if layer.merge_mode == "ave" else name)
    if layer.merge_mode == "ave":
        return b.op("Mul", [total, b.const(f"{name}/half", np.dtype(layer.dtype).type(0.5))], name)
    return total
