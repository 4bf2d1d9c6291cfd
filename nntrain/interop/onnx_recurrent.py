"""The recurrent layers (SimpleRNN, LSTM, GRU, Bidirectional) as ONNX nodes, unrolled step by step.

Each step is written out as the engine's loop computes it (engine/layers/recurrent.py): the input projection of
every step in one MatMul, then per step the recurrent MatMul, the gates, and the new state; a mask (from
Embedding(mask_zero=True)) carries the state through a padding step with `Where`, as the engine does. Unrolling,
rather than ONNX's LSTM/GRU operators, keeps Keras's gate order and activations (hard_sigmoid included), GRU's
reset_after, masks anywhere in a sequence (ONNX's operators only stop at a length) and the engine's arithmetic:
the graph grows with the number of steps (about 15 nodes per step and layer), which a fixed-length input has.
"""

from __future__ import annotations

import numpy as np

from nntrain.interop.onnx_graph import GraphBuilder, activation_nodes


def _gate(b: GraphBuilder, act, z: str, dtype, where: str) -> str:
    """A gate activation; the engine's sigmoid for gates is 0.5 + 0.5 * tanh(z / 2), written the same way."""
    inner = getattr(act, "act", None)  # the engine wraps a sigmoid gate in a faster form of the same function
    if inner is None:
        return activation_nodes(b, act, z, dtype, where)
    half = b.const(f"{where}/half", np.asarray(0.5, dtype))
    t = b.op("Tanh", [b.op("Mul", [z, half], f"{where}/z2")], f"{where}/tanh")
    return b.op("Add", [b.op("Mul", [t, half], f"{where}/t2"), half], f"{where}/sigmoid")


def _slice(b: GraphBuilder, x: str, start: int, end: int, axis: int, hint: str) -> str:
    """x[start:end] along `axis`."""
    bounds = [b.const(hint, np.asarray([v], np.int64)) for v in (start, end, axis)]
    return b.op("Slice", [x, *bounds], hint)


class _Unroller:
    """One recurrent layer's nodes. params: its kernel, recurrent_kernel and bias (a Bidirectional's are its own,
    prefixed, so they are passed in); x: the (batch, steps, features) input tensor; mask: (batch, steps) bool."""

    def __init__(self, b: GraphBuilder, layer, params: dict, name: str):
        self.b, self.layer, self.name = b, layer, name
        self.dtype = params["kernel"].dtype
        self.u = layer.units
        bias = params.get("bias") if layer.use_bias else None
        self.kernel = b.const(f"{name}/kernel", params["kernel"])
        self.rec = b.const(f"{name}/recurrent_kernel", params["recurrent_kernel"])
        kind = type(layer).registered_name
        # GRU's bias has two rows: the input projection's and the recurrent projection's
        self.in_bias = None if bias is None else b.const(f"{name}/bias", bias[0] if kind == "GRU" else bias)
        self.rec_bias = b.const(f"{name}/recurrent_bias", bias[1]) if bias is not None and kind == "GRU" else None
        self.step = {"SimpleRNN": self._simple, "LSTM": self._lstm, "GRU": self._gru}[kind]

    def _op(self, op_type: str, inputs: list[str], hint: str, **attrs) -> str:
        return self.b.op(op_type, inputs, f"{self.name}/{hint}", **attrs)

    def _act(self, act, z: str, hint: str) -> str:
        return activation_nodes(self.b, act, z, self.dtype, f"{self.name}/{hint}")

    def _simple(self, xw: str, hu: str, state: list[str]) -> list[str]:
        return [self._act(self.layer.activation, self._op("Add", [hu, xw], "z"), "h")]

    def _lstm(self, xw: str, hu: str, state: list[str]) -> list[str]:
        u, b = self.u, self.b
        z = self._op("Add", [hu, xw], "z")
        s = _gate(b, self.layer.recurrent_activation, z, self.dtype, f"{self.name}/gates")
        i, f, o = (_slice(b, s, k * u, (k + 1) * u, 1, f"{self.name}/{g}") for k, g in ((0, "i"), (1, "f"), (3, "o")))
        g = self._act(self.layer.activation, _slice(b, z, 2 * u, 3 * u, 1, f"{self.name}/zg"), "g")
        c = self._op("Add", [self._op("Mul", [f, state[1]], "fc"), self._op("Mul", [i, g], "ig")], "c")
        return [self._op("Mul", [o, self._act(self.layer.activation, c, "tc")], "h"), c]

    def _gru(self, xw: str, hu: str, state: list[str]) -> list[str]:
        u, b = self.u, self.b
        zr = self._op("Add", [_slice(b, xw, 0, 2 * u, 1, f"{self.name}/xzr"),
                              _slice(b, hu, 0, 2 * u, 1, f"{self.name}/hzr")], "zr")
        s = _gate(b, self.layer.recurrent_activation, zr, self.dtype, f"{self.name}/gates")
        z, r = _slice(b, s, 0, u, 1, f"{self.name}/z"), _slice(b, s, u, 2 * u, 1, f"{self.name}/r")
        pre = self._op("Add", [_slice(b, xw, 2 * u, 3 * u, 1, f"{self.name}/xh"),
                               self._op("Mul", [r, _slice(b, hu, 2 * u, 3 * u, 1, f"{self.name}/hh")], "rh")], "pre")
        hh = self._act(self.layer.activation, pre, "candidate")
        # hh + z * (h_prev - hh), in the engine's order
        return [self._op("Add", [hh, self._op("Mul", [z, self._op("Sub", [state[0], hh], "d")], "zd")], "h")]

    def nodes(self, x: str, mask: str | None, steps: int, zero_output_for_mask: bool) -> str:
        """The layer's output tensor: (batch, steps, units) with return_sequences, else (batch, units)."""
        layer, b = self.layer, self.b
        xw = self._op("MatMul", [x, self.kernel], "xw")  # every step's input projection in one product
        if self.in_bias is not None:
            xw = self._op("Add", [xw, self.in_bias], "xw_bias")
        batch = self._op("Shape", [x], "batch", start=0, end=1)
        zeros = self._op("ConstantOfShape", [self._op("Concat", [batch, b.const(f"{self.name}/units", np.asarray(
            [self.u], np.int64))], "state_shape", axis=0)], "zeros",
            value=b.onnx.numpy_helper.from_array(np.zeros(1, self.dtype)))
        state = [zeros, zeros] if type(layer).registered_name == "LSTM" else [zeros]  # (h, c) or h
        order = range(steps - 1, -1, -1) if layer.go_backwards else range(steps)
        outs = []
        for t in order:
            index = b.const(f"{self.name}/t{t}", np.asarray(t, np.int64))
            xw_t = self._op("Gather", [xw, index], f"xw{t}", axis=1)
            hu = self._op("MatMul", [state[0], self.rec], f"hu{t}")
            if self.rec_bias is not None:
                hu = self._op("Add", [hu, self.rec_bias], f"hu_bias{t}")
            new = self.step(xw_t, hu, state)
            if mask is not None:  # a padding step carries every state through
                keep = self._op("Unsqueeze", [self._op("Gather", [mask, index], f"mask{t}", axis=1),
                                              b.const(f"{self.name}/axis1", np.asarray([1], np.int64))], f"keep{t}")
                new = [self._op("Where", [keep, n, s], f"carry{t}") for n, s in zip(new, state)]
                if zero_output_for_mask and layer.return_sequences:
                    outs.append(self._op("Where", [keep, new[0], zeros], f"out{t}"))
                    state = new
                    continue
            state = new
            outs.append(state[0])
        if not layer.return_sequences:
            return state[0]
        axis = b.const(f"{self.name}/axis1", np.asarray([1], np.int64))
        return self._op("Concat", [self._op("Unsqueeze", [o, axis], f"seq{i}") for i, o in enumerate(outs)],
                        "sequence", axis=1)


def recurrent_nodes(b: GraphBuilder, layer, x: str, mask: str | None, name: str) -> str:
    """A SimpleRNN, LSTM or GRU reading (batch, steps, features) tensor `x`."""
    steps = layer.input_shape[0]
    return _Unroller(b, layer, layer.params, name).nodes(x, mask, steps, layer.zero_output_for_mask)


def bidirectional_nodes(b: GraphBuilder, layer, x: str, mask: str | None, name: str) -> str:
    """A Bidirectional: both inner layers (with the wrapper's prefixed weights), the backward sequence put back in
    step order, merged by merge_mode."""
    steps, ys = layer.input_shape[0], []
    for prefix, inner in (("forward_", layer.forward_layer), ("backward_", layer.backward_layer)):
        params = {k[len(prefix):]: v for k, v in layer.params.items() if k.startswith(prefix)}
        ys.append(_Unroller(b, inner, params, f"{name}/{prefix[:-1]}").nodes(x, mask, steps,
                                                                              inner.zero_output_for_mask))
    yf, yb = ys
    if layer.return_sequences:  # the backward layer's sequence runs last step first
        yb = b.op("Gather", [yb, b.const(f"{name}/reversed", np.arange(steps - 1, -1, -1, dtype=np.int64))],
                  f"{name}/backward_in_order", axis=1)
    mode = layer.merge_mode
    if mode == "concat":
        return b.op("Concat", [yf, yb], name, axis=-1)
    if mode == "mul":
        return b.op("Mul", [yf, yb], name)
    total = b.op("Add", [yf, yb], name if mode == "sum" else f"{name}/sum")
    if mode == "sum":
        return total
    return b.op("Mul", [total, b.const(f"{name}/half", np.asarray(0.5, b.model_dtype))], name)  # ave
