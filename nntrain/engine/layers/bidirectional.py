"""Bidirectional: a recurrent layer run over the steps forwards and, with its own weights, backwards, the two
outputs merged (Keras's wrapper)."""

from __future__ import annotations

import inspect

import numpy as np

from nntrain.engine.layer import LAYERS, Layer
from nntrain.engine.layers.recurrent import RNN
from nntrain.errors import ConfigError
from nntrain.registry import did_you_mean

MERGE_MODES = ("concat", "sum", "mul", "ave")


@LAYERS.register("Bidirectional")
class Bidirectional(Layer):
    """Runs `layer` forwards and a copy of it with go_backwards flipped (or `backward_layer`), and merges both
    outputs with `merge_mode`: concat (default: 2 * units wide), sum, mul or ave. With return_sequences the
    backward layer's sequence is put back in step order before merging, and masked steps give zeros (Keras).

    Args:
        layer: the recurrent layer, as a config: `{type: LSTM, units: 32}` or `{LSTM: {units: 32}}`.
        backward_layer: another recurrent layer config for the backward direction (default: `layer`'s).

    Its weights are the two layers', named forward_<weight> and backward_<weight>.
    """

    def __init__(self, layer, merge_mode: str = "concat", backward_layer=None, name: str | None = None,
                 trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        if merge_mode not in MERGE_MODES:
            raise ConfigError(f"Bidirectional(merge_mode=...) expects one of {', '.join(MERGE_MODES)}, got "
                              f"{merge_mode!r} (merge_mode None, two outputs, is not supported)")
        self.merge_mode = merge_mode
        self.forward_layer = _recurrent(layer, "layer", "forward", flip=False)
        self.backward_layer = (_recurrent(layer, "layer", "backward", flip=True) if backward_layer is None
                               else _recurrent(backward_layer, "backward_layer", "backward", flip=False))
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards or fwd.return_sequences != bwd.return_sequences:
            raise ConfigError("Bidirectional(backward_layer=...) must read the steps in the other direction "
                              "(go_backwards) and agree with `layer` on return_sequences")
        self._specs = (layer, backward_layer)
        self.return_sequences = fwd.return_sequences
        for inner in (fwd, bwd):
            inner.zero_output_for_mask = self.return_sequences

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        back = self.backward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            return (*shape[:-1], shape[-1] + back[-1])
        if shape != back:
            raise self.shape_error(input_shape, f"forward and backward layers of the same width for merge_mode "
                                                f"{self.merge_mode!r}, got {shape[-1]} and {back[-1]}")
        return shape

    def create_params(self, input_shape):
        for prefix, inner in (("forward_", self.forward_layer), ("backward_", self.backward_layer)):
            inner.build(input_shape, self.rng, self.dtype)
            self.params.update({prefix + k: v for k, v in inner.params.items()})

    def _bind(self) -> None:
        """Point the inner layers at this layer's arrays (the model moves params and grads into flat buffers)."""
        for prefix, inner in (("forward_", self.forward_layer), ("backward_", self.backward_layer)):
            for k in inner.params:
                inner.params[k], inner.grads[k] = self.params[prefix + k], self.grads[prefix + k]
            inner.trainable, inner.needs_input_grad, inner.rng = self.trainable, self.needs_input_grad, self.rng

    def forward(self, x, training):
        return self.forward_masked(x, training, None)

    def forward_masked(self, x, training, mask):
        self._bind()
        yf, back_f = self.forward_layer.run(x, mask, training)
        yb, back_b = self.backward_layer.run(x, mask, training)
        if self.return_sequences:
            yb = yb[:, ::-1]  # the backward layer's sequence runs last step first
        width = yf.shape[-1]
        mode = self.merge_mode
        if mode == "concat":
            y = np.concatenate([yf, yb], axis=-1)
        elif mode == "sum":
            y = yf + yb
        elif mode == "ave":
            y = (yf + yb) * yf.dtype.type(0.5)
        else:
            y = yf * yb

        def backward(dy):
            if mode == "concat":
                df, db = dy[..., :width], dy[..., width:]
            elif mode == "sum":
                df = db = dy
            elif mode == "ave":
                df = db = dy * dy.dtype.type(0.5)
            else:
                df, db = dy * yb, dy * yf
            if self.return_sequences:
                db = db[:, ::-1]
            dx_f, dx_b = back_f(df), back_b(db)
            return None if dx_f is None else dx_f + dx_b

        return y, backward

    def output_mask(self, x, mask):
        return mask if self.return_sequences else None

    @property
    def regularized(self):
        return self.forward_layer.regularized or self.backward_layer.regularized

    def penalty(self):
        self._bind()
        return self.forward_layer.penalty() + self.backward_layer.penalty()

    def add_penalty_grads(self):
        self._bind()
        self.forward_layer.add_penalty_grads()
        self.backward_layer.add_penalty_grads()

    def get_config(self):
        layer, backward_layer = self._specs
        return {"layer": _as_config(layer), "merge_mode": self.merge_mode,
                "backward_layer": None if backward_layer is None else _as_config(backward_layer),
                **super().get_config()}


def _recurrent(spec, arg: str, name: str, flip: bool) -> RNN:
    """A recurrent layer from its config (`{type: LSTM, ...}` or `{LSTM: {...}}`), go_backwards flipped if asked."""
    kind, args = _parse(spec, arg)
    cls = LAYERS.get(kind)
    if not (isinstance(cls, type) and issubclass(cls, RNN)):
        raise ConfigError(f"Bidirectional({arg}=...) wraps a recurrent layer (SimpleRNN, LSTM, GRU), got {kind}")
    args = {k: v for k, v in args.items() if k not in ("name", "trainable")}
    valid = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "name", "trainable")]
    for key in args:
        if key not in valid:
            raise ConfigError(f"Bidirectional({arg}=...): {kind} has no argument `{key}`"
                              f"{did_you_mean(str(key), valid)}; valid: {', '.join(valid)}")
    if flip:
        args["go_backwards"] = not args.get("go_backwards", False)
    return cls(**args, name=name)


def _parse(spec, arg: str) -> tuple[str, dict]:
    if isinstance(spec, dict) and isinstance(spec.get("type"), str):
        return spec["type"], {k: v for k, v in spec.items() if k != "type"}
    if isinstance(spec, dict) and len(spec) == 1:
        (kind, args), = spec.items()
        if isinstance(kind, str) and isinstance(args or {}, dict):
            return kind, dict(args or {})
    raise ConfigError(f"Bidirectional({arg}=...) expects a recurrent layer like {{type: LSTM, units: 32}} or "
                      f"{{LSTM: {{units: 32}}}}, got {spec!r}")


def _as_config(spec) -> dict:
    kind, args = _parse(spec, "layer")
    return {"type": LAYERS.canonical(kind), **args}
