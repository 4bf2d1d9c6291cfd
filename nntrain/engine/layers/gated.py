"""The gated recurrent layers, LSTM and GRU (Keras's gate order), on the loop over steps of recurrent.py."""

from __future__ import annotations

import numpy as np

from nntrain.engine.kernels import ones
from nntrain.engine.layer import LAYERS
from nntrain.engine.layers.recurrent import RNN, flag, gate_activation, gate_config
from nntrain.errors import ConfigError


@LAYERS.register("LSTM")
class LSTM(RNN):
    """Long short-term memory, Keras's gate order i, f, c, o in the kernels' columns:
    i, f, o = recurrent_activation(...), g = activation(...), c[t] = f * c[t-1] + i * g, h[t] = o * activation(c[t]).

    unit_forget_bias: the forget gate's bias starts at 1 (Keras's default), the rest from bias_initializer.
    """

    gates, states = 4, 2

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, name: str | None = None, trainable: bool = True):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, name, trainable)
        self.recurrent_activation = gate_activation(recurrent_activation)
        self.unit_forget_bias = flag("LSTM", "unit_forget_bias", unit_forget_bias)

    def make_bias(self):
        bias = super().make_bias()
        if self.unit_forget_bias:
            bias[self.units:2 * self.units] = 1
        return bias

    def _step(self, xw_t, hu, state):
        u = self.units
        z = hu
        z += xw_t  # hu is this step's own array: the pre-activation in place
        s, s_back = self.recurrent_activation(z)  # over all four blocks: one call; the c block is not used
        g, g_back = self.activation(z[:, 2 * u:3 * u])
        i, f, o = s[:, :u], s[:, u:2 * u], s[:, 3 * u:]
        c = f * state[1]
        c += i * g
        tc, tc_back = self.activation(c)
        return (o * tc, c), (s_back, g_back, tc_back, i, f, g, o, tc, state[1])

    def _step_back(self, d_state, cache):
        s_back, g_back, tc_back, i, f, g, o, tc, c_prev = cache
        u = self.units
        dh, dc = d_state
        dc = dc + tc_back(dh * o)
        ds = np.empty((len(dh), 4 * u), dh.dtype)
        np.multiply(dc, g, out=ds[:, :u])
        np.multiply(dc, c_prev, out=ds[:, u:2 * u])
        ds[:, 2 * u:3 * u] = 0
        np.multiply(dh, tc, out=ds[:, 3 * u:])
        dz = s_back(ds)
        dz[:, 2 * u:3 * u] = g_back(dc * i)
        return dz, dz, (None, dc * f)

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": gate_config(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


@LAYERS.register("GRU")
class GRU(RNN):
    """Gated recurrent unit, Keras's gate order z (update), r (reset), h (candidate), with `reset_after=True`
    (Keras's default): z, r = recurrent_activation(xw + hu), hh = activation(xw_h + r * hu_h),
    h[t] = z * h[t-1] + (1 - z) * hh, where hu = h[t-1] @ recurrent_kernel + recurrent bias. The bias has two rows:
    input bias and recurrent bias."""

    gates = 3

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, reset_after: bool = True,
                 name: str | None = None, trainable: bool = True):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, name, trainable)
        self.recurrent_activation = gate_activation(recurrent_activation)
        if reset_after is not True:
            raise ConfigError(f"GRU(reset_after={reset_after!r}) is not supported: only Keras's default "
                              f"reset_after=true (the reset gate applied after the recurrent product)")
        self.reset_after = True

    def make_bias(self):
        return self.bias_initializer((2, 3 * self.units), self.rng, self.dtype)

    def input_bias(self):
        return self.params["bias"][0] if self.use_bias else None

    def recurrent_bias(self):
        return self.params["bias"][1] if self.use_bias else None

    def bias_grad(self, flat_dxw, flat_dhu):
        row = ones(len(flat_dxw), flat_dxw.dtype)
        np.dot(row, flat_dxw, out=self.grads["bias"][0])
        np.dot(row, flat_dhu, out=self.grads["bias"][1])

    def _step(self, xw_t, hu, state):
        u = self.units
        s, s_back = self.recurrent_activation(xw_t[:, :2 * u] + hu[:, :2 * u])
        z, r = s[:, :u], s[:, u:]
        rec_h = hu[:, 2 * u:]
        hh, hh_back = self.activation(xw_t[:, 2 * u:] + r * rec_h)
        h_prev = state[0]
        return (hh + z * (h_prev - hh),), (s_back, hh_back, z, r, hh, h_prev, rec_h)

    def _step_back(self, d_state, cache):
        s_back, hh_back, z, r, hh, h_prev, rec_h = cache
        u = self.units
        dh = d_state[0]
        d_pre = hh_back(dh * (1 - z))  # d(xw_h + r * hu_h)
        ds = np.empty((len(dh), 2 * u), dh.dtype)
        np.multiply(dh, h_prev - hh, out=ds[:, :u])
        np.multiply(d_pre, rec_h, out=ds[:, u:])
        ds = s_back(ds)
        gx = np.concatenate([ds, d_pre], axis=1)
        gh = np.concatenate([ds, d_pre * r], axis=1)
        return gx, gh, (dh * z,)

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": gate_config(self.recurrent_activation),
                "reset_after": self.reset_after}
