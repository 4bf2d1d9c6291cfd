"""The loop over steps that SimpleRNN, LSTM and GRU (gated.py) share, and SimpleRNN; Keras's names, arguments and
defaults.

Every layer reads (batch, steps, features) and computes, per step t, from its input projection xw[t] = x[t] @ kernel
(+ bias) and its recurrent projection hu = h[t-1] @ recurrent_kernel, a new state. The speed comes from where the
matrix products go: the input projection for all steps is ONE product before the loop, the recurrence is one
product per step, and the backward pass through time does one product per step (dh[t-1] = dhu[t] @ U.T); the
kernel, recurrent kernel and input gradients are again one product each over all steps after it. Nothing loops
over examples.

A mask (batch, steps), from Embedding(mask_zero=True), makes a step that is padding leave the state and the output
as they were (Keras's RNN): both are carried through it. Bidirectional (bidirectional.py) asks for zeros at masked
steps of a returned sequence instead, as Keras's Bidirectional does.
"""

from __future__ import annotations

import numpy as np

from nntrain.engine.activations import get_activation
from nntrain.engine.initializers import get_initializer
from nntrain.engine.kernels import gate_sigmoid, ones
from nntrain.engine.layer import LAYERS, Layer, config_form, positive_int
from nntrain.engine.regularizers import get_regularizer
from nntrain.errors import ConfigError

_WEIGHTS = ("kernel", "recurrent_kernel", "bias")


def gate_activation(spec):
    """The gates' activation; sigmoid through kernels.gate_sigmoid (the gates run it at every step)."""
    act = get_activation(spec)
    return GateSigmoid(act) if act.registered_name == "sigmoid" else act


def gate_config(act):
    return config_form(getattr(act, "act", act))  # a GateSigmoid is saved as the sigmoid it stands for


class GateSigmoid:
    """The sigmoid activation, computed by kernels.gate_sigmoid."""

    def __init__(self, act):
        self.act = act  # the registered one, for get_config

    def __call__(self, z):
        y = gate_sigmoid(z)
        return y, lambda dy: dy * (y * (1 - y))


class RNN(Layer):
    """The loop over steps shared by the recurrent layers; a subclass gives its gate count and one step forward
    and back (`_step`, `_step_back`).

    Args:
        units: size of the state and of the output per step.
        return_sequences: output every step's output, (batch, steps, units), instead of the last, (batch, units).
        go_backwards: read the steps last to first (the returned sequence is then in that order too, as Keras).
        dropout: the fraction of input features dropped in training, one mask per sequence for every step
            (Keras's default implementation).
        recurrent_dropout, return_state, stateful: Keras's arguments, accepted at their defaults only.
    """

    gates = 1
    states = 1  # h only; LSTM adds its cell state c

    def __init__(self, units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                 kernel_regularizer, recurrent_regularizer, bias_regularizer, dropout, recurrent_dropout,
                 return_sequences, return_state, go_backwards, stateful, name, trainable):
        super().__init__(name=name, trainable=trainable)
        kind = type(self).__name__
        self.units = positive_int(kind, "units", units)
        self.activation = get_activation(activation)
        self.use_bias = flag(kind, "use_bias", use_bias)
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.recurrent_initializer = get_initializer(recurrent_initializer)
        self.bias_initializer = get_initializer(bias_initializer)
        self.regularizers = {k: get_regularizer(r) for k, r in
                             zip(_WEIGHTS, (kernel_regularizer, recurrent_regularizer, bias_regularizer))}
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ConfigError(f"{kind}(dropout=...) expects a number in [0, 1), got dropout={dropout!r}")
        if recurrent_dropout != 0:
            raise ConfigError(f"{kind}(recurrent_dropout={recurrent_dropout!r}) is not supported (Keras then drops "
                              f"each gate's state apart, four products a step); use `dropout` on the inputs, or a "
                              f"Dropout layer after the recurrent layer")
        for arg, value in (("return_state", return_state), ("stateful", stateful)):
            if value is not False:
                raise ConfigError(f"{kind}({arg}={value!r}) is not supported: a layer gives one tensor and every "
                                  f"batch starts from a zero state")
        self.dropout, self.recurrent_dropout = float(dropout), 0.0
        self.return_sequences = flag(kind, "return_sequences", return_sequences)
        self.go_backwards = flag(kind, "go_backwards", go_backwards)
        self.zero_output_for_mask = False  # Bidirectional sets it where it returns sequences, as Keras does

    # --- shapes and weights -------------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise self.shape_error(input_shape, "sequences of shape (None, steps, features)")
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def create_params(self, input_shape):
        width = self.gates * self.units
        self.params["kernel"] = self.kernel_initializer((input_shape[-1], width), self.rng, self.dtype)
        self.params["recurrent_kernel"] = self.recurrent_initializer((self.units, width), self.rng, self.dtype)
        if self.use_bias:
            self.params["bias"] = self.make_bias()

    def make_bias(self) -> np.ndarray:
        return self.bias_initializer((self.gates * self.units,), self.rng, self.dtype)

    def input_bias(self):
        return self.params["bias"] if self.use_bias else None

    def recurrent_bias(self):
        return None  # GRU(reset_after=True) has one

    # --- maths --------------------------------------------------------------------------------------------
    def forward(self, x, training):
        return self.run(x, None, training)

    def forward_masked(self, x, training, mask):
        return self.run(x, mask, training)

    def output_mask(self, x, mask):
        return mask if self.return_sequences else None

    def run(self, x, mask, training: bool = False):
        """The loop over steps. x: (batch, steps, features); mask: (batch, steps) bool or None.

        Returns the output ((batch, steps, units) or (batch, units)) and its backward."""
        batch, steps, features = x.shape
        u, kernel, rec = self.units, self.params["kernel"], self.params["recurrent_kernel"]
        xs = x.transpose(1, 0, 2)[::-1] if self.go_backwards else x.transpose(1, 0, 2)
        xs = np.ascontiguousarray(xs)  # (steps, batch, features): each step's rows contiguous
        scale = None
        if training and self.dropout > 0:  # one (batch, features) mask for every step, as Keras
            kept = 1.0 - self.dropout
            scale = (self.rng.random((batch, features), dtype=np.float32) < kept) * x.dtype.type(1.0 / kept)
            xs *= scale
        xw = np.dot(xs.reshape(steps * batch, -1), kernel).reshape(steps, batch, -1)  # every step in one product
        if self.input_bias() is not None:
            xw += self.input_bias()
        keep = padded = None
        if mask is not None:
            keep = (mask.T[::-1] if self.go_backwards else mask.T)[:, :, None]  # (steps, batch, 1)
            padded = ~keep.all(axis=(1, 2))  # (steps,): steps where some row is padding (the rest need no mask)
        r_bias = self.recurrent_bias()
        hs = np.empty((steps + 1, batch, u), x.dtype)  # hs[t + 1]: the state after step t; hs[0] = 0
        hs[0] = 0
        state = tuple(np.zeros((batch, u), x.dtype) for _ in range(self.states))
        caches = []
        for t in range(steps):
            hu = np.dot(state[0], rec)
            if r_bias is not None:
                hu += r_bias
            new, cache = self._step(xw[t], hu, state)
            if padded is not None and padded[t]:  # a padding step carries every state through
                for n, s in zip(new, state):
                    np.copyto(n, s, where=~keep[t])
            state = new
            hs[t + 1] = state[0]
            caches.append(cache)
        outs = hs[1:]
        if keep is not None and self.zero_output_for_mask and self.return_sequences:
            outs = outs * keep
        y = outs.transpose(1, 0, 2) if self.return_sequences else state[0]

        def backward(dy):
            dx = self._backward(dy, xs, hs, keep, padded, caches)
            return dx if dx is None or scale is None else dx * scale[:, None, :]

        return y, backward

    def _backward(self, dy, xs, hs, keep, padded, caches):
        """Backward through time: one product per step for the state's gradient, then one for each weight."""
        steps, batch, _ = xs.shape
        rec_t = self.params["recurrent_kernel"].T
        d_outs = None
        if self.return_sequences:
            d_outs = dy.transpose(1, 0, 2)
            if keep is not None and self.zero_output_for_mask:
                d_outs = d_outs * keep
        d_state = [np.zeros_like(hs[0]) for _ in range(self.states)]
        if not self.return_sequences:
            d_state[0] = dy.astype(hs.dtype, copy=True)
        dxw = dhu = None
        for t in range(steps - 1, -1, -1):
            if d_outs is not None:
                d_state[0] = d_state[0] + d_outs[t]
            carried = None
            if padded is not None and padded[t]:  # a padding step passed its incoming state on unchanged
                carried = [np.where(keep[t], 0, d) for d in d_state]
                d_state = [np.where(keep[t], d, 0) for d in d_state]
            gx, gh, d_prev = self._step_back(d_state, caches[t])
            if dxw is None:
                dxw = np.empty((steps, *gx.shape), gx.dtype)
                dhu = dxw if gh is gx else np.empty_like(dxw)
            dxw[t] = gx
            if dhu is not dxw:
                dhu[t] = gh
            d_h = np.dot(gh, rec_t)
            if d_prev[0] is not None:
                d_h += d_prev[0]
            d_state = [d_h, *d_prev[1:]]
            if carried is not None:
                d_state = [d + c for d, c in zip(d_state, carried)]
        flat_x, flat_dxw = xs.reshape(steps * batch, -1), dxw.reshape(steps * batch, -1)
        if self.trainable:
            np.dot(flat_x.T, flat_dxw, out=self.grads["kernel"])
            np.dot(hs[:-1].reshape(steps * batch, -1).T, dhu.reshape(steps * batch, -1),
                   out=self.grads["recurrent_kernel"])
            if self.use_bias:
                self.bias_grad(flat_dxw, dhu.reshape(steps * batch, -1))
        if not self.needs_input_grad:
            return None
        dx = np.dot(flat_dxw, self.params["kernel"].T).reshape(steps, batch, -1)
        return (dx[::-1] if self.go_backwards else dx).transpose(1, 0, 2)

    def bias_grad(self, flat_dxw, flat_dhu) -> None:
        np.dot(ones(len(flat_dxw), flat_dxw.dtype), flat_dxw, out=self.grads["bias"])

    def _step(self, xw_t, hu, state):
        """One step: (input projection (batch, gates*units), recurrent projection, state) -> (new state, cache)."""
        raise NotImplementedError

    def _step_back(self, d_state, cache):
        """Its backward: d(new state) -> (d xw_t, d hu, d(old state) other than through hu; None for none)."""
        raise NotImplementedError

    # --- penalties and config -----------------------------------------------------------------------------
    @property
    def regularized(self):
        return any(r is not None for r in self.regularizers.values())

    def penalty(self):
        return sum(r.penalty(self.params[k]) for k, r in self.regularizers.items()
                   if r is not None and k in self.params)

    def add_penalty_grads(self):
        if self.trainable:
            for k, r in self.regularizers.items():
                if r is not None and k in self.params:
                    r.add_gradient(self.params[k], self.grads[k])

    def get_config(self):
        return {
            "units": self.units, "activation": config_form(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": config_form(self.kernel_initializer),
            "recurrent_initializer": config_form(self.recurrent_initializer),
            "bias_initializer": config_form(self.bias_initializer),
            **{f"{k}_regularizer": config_form(r) for k, r in zip(("kernel", "recurrent", "bias"),
                                                                  self.regularizers.values())},
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "return_sequences": self.return_sequences, "return_state": False, "go_backwards": self.go_backwards,
            "stateful": False, **super().get_config(),
        }


def flag(kind: str, arg: str, value) -> bool:
    """`value` if it is a bool, else ConfigError naming the layer and the argument."""
    if not isinstance(value, bool):
        raise ConfigError(f"{kind}({arg}=...) expects true or false, got {arg}={value!r}")
    return value


@LAYERS.register("SimpleRNN")
class SimpleRNN(RNN):
    """h[t] = activation(x[t] @ kernel + h[t-1] @ recurrent_kernel + bias); the output is h."""

    def __init__(self, units: int, activation="tanh", use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, name: str | None = None, trainable: bool = True):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, name, trainable)

    def _step(self, xw_t, hu, state):
        hu += xw_t  # hu is this step's own array: the pre-activation in place
        h, back = self.activation(hu)
        return (h,), back

    def _step_back(self, d_state, back):
        dz = back(d_state[0])
        return dz, dz, (None,)
