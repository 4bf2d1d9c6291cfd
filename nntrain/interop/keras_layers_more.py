"""The convolutional, pooling, normalization and recurrent layers and their Keras 3 counterparts: entries added to
keras_layers.py's tables (EXPORTS, IMPORTS, WEIGHT_ORDER) when that module loads, and where Keras keeps their weights.

Keras keeps a recurrent layer's arrays in its cell (`layers/lstm/cell/vars/0..2`: kernel, recurrent_kernel, bias,
gates in the engine's order already: LSTM i, f, c, o; GRU z, r, h with a (2, 3 * units) bias), and a Bidirectional's
in its two wrapped layers' cells (`layers/bidirectional/forward_layer/cell/vars`, then `backward_layer/...`).
"""

from __future__ import annotations

from nntrain.engine.layer import LAYERS
from nntrain.interop import keras_layers as kl

RECURRENT = ("SimpleRNN", "LSTM", "GRU")
CONVOLUTIONS = ("Conv1D", "Conv2D")
POOLS = ("MaxPooling1D", "MaxPooling2D", "AveragePooling2D")
GLOBAL_POOLS = ("GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D")

# Keras arguments that hold their neutral value in every layer nntrain writes, and the ones that change nothing
kl.NEUTRAL.update({"groups": 1, "rms_scaling": False, "unroll": False, "zero_output_for_mask": False,
                   "recurrent_constraint": None})
kl.IGNORED.add("seed")  # a recurrent layer's: it seeds the dropout nntrain refuses
kl.INITIALIZERS.setdefault("orthogonal", "Orthogonal")
kl.NO_TRAINABLE_ARG.update({"SpatialDropout1D", "SpatialDropout2D"})


def _objects(c: dict, keys: tuple, table: dict, module: str, name: str, kind: str) -> dict:
    return {k: kl._keras_object(c[k], table, module, name, kind) for k in keys}


def _conv(c: dict, name: str, kind: str) -> dict:
    return {"filters": c["filters"], "kernel_size": c["kernel_size"], "strides": c["strides"], "padding": c["padding"],
            "data_format": "channels_last", "dilation_rate": c["dilation_rate"], "groups": 1,
            "activation": kl._activation(c["activation"], name, kind), "use_bias": c["use_bias"],
            **_objects(c, ("kernel_initializer", "bias_initializer"), kl.INITIALIZERS, "initializer", name, kind),
            **_objects(c, ("kernel_regularizer", "bias_regularizer", "activity_regularizer"), kl.REGULARIZERS,
                       "regularizer", name, kind)}


def _recurrent(c: dict, name: str, kind: str, in_bidirectional: bool = False) -> dict:
    cfg = {"return_sequences": c["return_sequences"], "return_state": False, "go_backwards": c["go_backwards"],
           "stateful": False, "unroll": False, "zero_output_for_mask": in_bidirectional and c["return_sequences"],
           "units": c["units"], "activation": kl._activation(c["activation"], name, kind)}
    if "recurrent_activation" in c:
        cfg["recurrent_activation"] = kl._activation(c["recurrent_activation"], name, kind)
    cfg["use_bias"] = c["use_bias"]
    cfg.update(_objects(c, ("kernel_initializer", "recurrent_initializer", "bias_initializer"), kl.INITIALIZERS,
                        "initializer", name, kind))
    if "unit_forget_bias" in c:
        cfg["unit_forget_bias"] = c["unit_forget_bias"]
    cfg.update(_objects(c, ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer"), kl.REGULARIZERS,
                        "regularizer", name, kind))
    cfg.update({"dropout": c["dropout"], "recurrent_dropout": c["recurrent_dropout"], "seed": None})
    if "reset_after" in c:
        cfg["reset_after"] = c["reset_after"]
    return cfg


def _bidirectional(c: dict, name: str, kind: str) -> dict:
    """Keras writes both wrapped layers, named forward_<lstm> and backward_<lstm>; the backward one reads the steps
    in the other direction."""
    from nntrain.engine.layers.bidirectional import _parse

    wrapped = {}
    for key, spec in (("layer", c["layer"]), ("backward_layer", c["backward_layer"] or c["layer"])):
        inner_kind, args = _parse(spec, key)
        inner_kind = LAYERS.canonical(inner_kind)
        inner_cfg = LAYERS.get(inner_kind)(**{k: v for k, v in args.items() if k != "name"}).get_config()
        if key == "backward_layer" and c["backward_layer"] is None:
            inner_cfg["go_backwards"] = not inner_cfg["go_backwards"]
        side = "forward" if key == "layer" else "backward"
        wrapped[key] = {"module": "keras.layers", "class_name": inner_kind,
                        "config": {"name": f"{side}_{_SNAKE[inner_kind]}", "trainable": True,
                                   "dtype": "float32", **_recurrent(inner_cfg, name, kind, in_bidirectional=True)},
                        "registered_name": None}
    return {"merge_mode": c["merge_mode"], **wrapped}


kl.EXPORTS.update({
    **{k: _conv for k in CONVOLUTIONS},
    **{k: lambda c, n, k: {"pool_size": c["pool_size"], "padding": c["padding"], "strides": c["strides"],
                           "data_format": "channels_last"} for k in POOLS},
    **{k: lambda c, n, k: {"data_format": "channels_last", "keepdims": c["keepdims"]} for k in GLOBAL_POOLS},
    "SpatialDropout1D": lambda c, n, k: {"rate": c["rate"], "seed": c["seed"]},
    "SpatialDropout2D": lambda c, n, k: {"rate": c["rate"], "seed": c["seed"], "data_format": "channels_last"},
    "LayerNormalization": lambda c, n, k: {
        "axis": [c["axis"]] if isinstance(c["axis"], int) else c["axis"], "epsilon": c["epsilon"],
        "center": c["center"], "scale": c["scale"], "rms_scaling": False,
        **_objects(c, ("beta_initializer", "gamma_initializer"), kl.INITIALIZERS, "initializer", n, k)},
    "ZeroPadding2D": lambda c, n, k: {"padding": c["padding"], "data_format": "channels_last"},
    "UpSampling2D": lambda c, n, k: {"size": c["size"], "data_format": "channels_last",
                                     "interpolation": c["interpolation"]},
    **{k: _recurrent for k in RECURRENT},
    "Bidirectional": _bidirectional,
    "Embedding": lambda c, n, k: {**kl._embedding(c, n, k), "mask_zero": c["mask_zero"]},
})

_SNAKE = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
_CELL = ("kernel", "recurrent_kernel", "bias")
kl.WEIGHT_ORDER.update({
    **{k: ("kernel", "bias") for k in CONVOLUTIONS},
    "LayerNormalization": ("gamma", "beta"),
    **{k: _CELL for k in RECURRENT},
    "Bidirectional": tuple(f"{side}_{w}" for side in ("forward", "backward") for w in _CELL),
})


# --- Keras -> nntrain ----------------------------------------------------------------------------------------
def _from_bidirectional(value, layer: str, kind: str) -> dict:
    """A wrapped layer's Keras config ({"class_name": "LSTM", "config": {...}}) as an nntrain layer config."""
    inner_kind = value.get("class_name")
    if inner_kind not in RECURRENT:
        raise kl._refuse(layer, kind, f"it wraps a {inner_kind}; nntrain's Bidirectional wraps "
                                      f"{', '.join(RECURRENT)}")
    config = {k: v for k, v in (value.get("config") or {}).items() if k != "zero_output_for_mask"}
    entry = kl.from_keras(inner_kind, config)
    entry.pop("name", None)
    entry.pop("trainable", None)
    return entry


_INIT, _REG = kl._INIT, kl._REG
_RECURRENT_ARGS = {"units": "same", "activation": "act", "use_bias": "same", "kernel_initializer": _INIT,
                   "recurrent_initializer": _INIT, "bias_initializer": _INIT, "kernel_regularizer": _REG,
                   "recurrent_regularizer": _REG, "bias_regularizer": _REG, "dropout": "same",
                   "recurrent_dropout": "same", "return_sequences": "same", "return_state": "same",
                   "go_backwards": "same", "stateful": "same"}
_CONV_ARGS = {"filters": "same", "kernel_size": "same", "strides": "same", "padding": "same",
              "dilation_rate": "same", "activation": "act", "use_bias": "same", "kernel_initializer": _INIT,
              "bias_initializer": _INIT, "kernel_regularizer": _REG, "bias_regularizer": _REG,
              "activity_regularizer": _REG}
kl.IMPORTS.update({
    **{k: _CONV_ARGS for k in CONVOLUTIONS},
    **{k: {"pool_size": "same", "strides": "same", "padding": "same"} for k in POOLS},
    **{k: {"keepdims": "same"} for k in GLOBAL_POOLS},
    "SpatialDropout1D": {"rate": "same", "seed": "same"},
    "SpatialDropout2D": {"rate": "same", "seed": "same"},
    "LayerNormalization": {"axis": "same", "epsilon": "same", "center": "same", "scale": "same",
                           "beta_initializer": _INIT, "gamma_initializer": _INIT},
    "ZeroPadding2D": {"padding": "same"},
    "UpSampling2D": {"size": "same", "interpolation": "same"},
    "SimpleRNN": _RECURRENT_ARGS,
    "LSTM": {**_RECURRENT_ARGS, "recurrent_activation": "act", "unit_forget_bias": "same"},
    "GRU": {**_RECURRENT_ARGS, "recurrent_activation": "act", "reset_after": "same"},
    "Bidirectional": {"merge_mode": "same", "layer": _from_bidirectional, "backward_layer": _from_bidirectional},
    "Embedding": {**kl.IMPORTS["Embedding"], "mask_zero": "same"},
})


def _bidirectional_weights(config: dict) -> list[str]:
    names = []
    for side, key in (("forward", "layer"), ("backward", "backward_layer")):
        inner = (config.get(key) or config.get("layer") or {}).get("config", {})
        names += [f"{side}_{w}" for w in _CELL if w != "bias" or inner.get("use_bias", True)]
    return names


kl.WEIGHT_NAMES["Bidirectional"] = _bidirectional_weights

# where model.weights.h5 keeps a layer's arrays, under layers/<snake>[_i]/ (default: vars/ itself)
kl.WEIGHT_PATHS.update({**{k: ("cell",) for k in RECURRENT}, "Bidirectional": ("forward_layer/cell",
                                                                              "backward_layer/cell")})


def weight_groups(layer) -> list[tuple[str, list]]:
    """(path below layers/<name>/, arrays) of what model.weights.h5 holds for `layer`, in Keras's order; each path
    ends in vars/ and the groups above it (the wrapper's, the wrapped layer's) hold an empty vars/ of their own."""
    arrays = kl.keras_weights(layer)
    paths = kl.WEIGHT_PATHS.get(type(layer).registered_name)
    if paths is None:
        return [("vars", arrays)]
    groups = [("vars", [])]
    if len(paths) == 1:
        return [*groups, (f"{paths[0]}/vars", arrays)]
    forward = sum(k.startswith("forward_") for k in layer.get_weights())  # a Bidirectional: forward ones first
    for path, part in zip(paths, (arrays[:forward], arrays[forward:])):
        groups += [(f"{path.rsplit('/', 1)[0]}/vars", []), (f"{path}/vars", part)]
    return groups


def legacy_weight_names(layer) -> list[str]:
    """The names of `layer`'s arrays below `<model>/<layer>/` in a legacy .h5 (Keras's variable paths), in Keras's
    order: `kernel`; a recurrent layer's `lstm_cell/kernel`; a Bidirectional's `forward_lstm/lstm_cell/kernel`."""
    kind, own = type(layer).registered_name, layer.get_weights()
    keys = [k for k in kl.WEIGHT_ORDER.get(kind, ()) if k in own]
    if kind in RECURRENT:
        return [f"{_SNAKE[kind]}_cell/{k}" for k in keys]
    if kind != "Bidirectional":
        return keys
    names = []
    for key in keys:
        side, weight = key.split("_", 1)
        inner = _SNAKE[type(getattr(layer, f"{side}_layer")).registered_name]
        names.append(f"{side}_{inner}/{inner}_cell/{weight}")
    return names
