"""Each nntrain layer and its Keras 3 counterpart: the layer's config both ways, and its weights in the order Keras
keeps them (`layer.weights`: Dense kernel, bias; BatchNormalization gamma, beta, moving_mean, moving_variance).

    to_keras(layer)                -> {"class_name": "Dense", "config": {...Keras arguments}}
    from_keras(class_name, config) -> {"type": "Dense", ...nntrain arguments}   (as a config's model section)

What has no counterpart (a Keras constraint, a masked Embedding, a GELU with the tanh approximation...) is refused
with a ConfigError naming the layer and the argument.
"""

from __future__ import annotations

import numpy as np

from nntrain.errors import ConfigError

# nntrain name -> Keras name; the same functions (the parameters nntrain allows are Keras's defaults)
ACTIVATIONS = {"linear": "linear", "identity": "linear", "relu": "relu", "leaky_relu": "leaky_relu", "elu": "elu",
               "selu": "selu", "gelu": "gelu", "sigmoid": "sigmoid", "hard_sigmoid": "hard_sigmoid", "tanh": "tanh",
               "softmax": "softmax", "softplus": "softplus", "softsign": "softsign", "swish": "silu", "silu": "silu"}
KERAS_ACTIVATIONS = {"linear": "linear", "relu": "relu", "leaky_relu": "leaky_relu", "elu": "elu", "selu": "selu",
                     "gelu": "gelu", "sigmoid": "sigmoid", "hard_sigmoid": "hard_sigmoid", "tanh": "tanh",
                     "softmax": "softmax", "softplus": "softplus", "softsign": "softsign", "silu": "silu",
                     "swish": "silu"}
# an activation argument that differs from Keras's default would silently change the function
ACTIVATION_DEFAULTS = {"leaky_relu": {"alpha": 0.2}, "elu": {"alpha": 1.0}, "gelu": {"approximate": False},
                       "softmax": {"axis": -1}}
INITIALIZERS = {"glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal", "he_normal": "HeNormal",
                "he_uniform": "HeUniform", "lecun_normal": "LecunNormal", "lecun_uniform": "LecunUniform",
                "random_normal": "RandomNormal", "random_uniform": "RandomUniform", "zeros": "Zeros", "ones": "Ones",
                "constant": "Constant"}
REGULARIZERS = {"l1": "L1", "l2": "L2", "l1_l2": "L1L2"}
# Keras arguments nntrain has no equivalent for: refused unless they hold their neutral value
NEUTRAL = {"kernel_constraint": None, "bias_constraint": None, "embeddings_constraint": None, "beta_constraint": None,
           "gamma_constraint": None, "beta_regularizer": None, "gamma_regularizer": None, "noise_shape": None,
           "mask_zero": False, "renorm": False, "keepdims": False, "quantization_config": None, "lora_rank": None,
           "data_format": "channels_last", "synchronized": False, "ragged": False, "optional": False,
           "activity_regularizer": None}
# Keras arguments that change nothing nntrain computes
IGNORED = {"name", "trainable", "dtype", "renorm_clipping", "renorm_momentum", "input_length", "lora_alpha",
           "batch_input_shape", "batch_shape", "sparse", "autocast", "input_dim_scale"}


def _refuse(layer: str, kind: str, what: str) -> ConfigError:
    return ConfigError(f"layer `{layer}` ({kind}): {what}", layer=layer)


# --- nntrain -> Keras ----------------------------------------------------------------------------------------
def _named(spec) -> tuple[str, dict]:
    """An nntrain activation/initializer/regularizer in config form ("relu" or {"name": ..., args}) as (name, args)."""
    return (spec, {}) if isinstance(spec, str) else (spec["name"], {k: v for k, v in spec.items() if k != "name"})


def _activation(spec, layer: str, kind: str) -> str:
    name, args = _named(spec)
    defaults = ACTIVATION_DEFAULTS.get(name, {})
    changed = {k: v for k, v in args.items() if defaults.get(k, object()) != v}
    if name not in ACTIVATIONS or changed:
        shown = name + (f"({', '.join(f'{k}={v!r}' for k, v in changed.items())})" if changed else "")
        raise _refuse(layer, kind, f"activation {shown} has no Keras equivalent (Keras's `{name}` takes its default "
                                   f"arguments only)")
    return ACTIVATIONS[name]


def _keras_object(spec, table: dict, module: str, layer: str, kind: str):
    if spec is None:
        return None
    name, args = _named(spec)
    if name not in table:
        raise _refuse(layer, kind, f"{module} {name!r} has no Keras equivalent")
    return {"module": f"keras.{module}s", "class_name": table[name], "config": args, "registered_name": None}


def to_keras(layer) -> dict:
    """{"class_name", "config"} of the Keras layer computing what the engine layer computes (weights aside).

    Raises:
        ConfigError: a layer type or argument Keras cannot express, naming the layer.
    """
    kind = type(layer).registered_name
    cfg = {k: v for k, v in layer.get_config().items()}
    name = cfg.pop("name")
    cfg.pop("trainable", None)
    if kind not in EXPORTS:
        raise _refuse(name, kind, f"no Keras layer corresponds; exportable: {', '.join(EXPORTS)}")
    if "/" in name:  # Keras refuses the name: it separates weight paths
        raise _refuse(name, kind, "Keras does not allow '/' in a layer name; rename the layer in the config")
    keras_cfg = EXPORTS[kind](cfg, name, kind)
    base = {"name": name, "trainable": layer.trainable, "dtype": "float32"}
    if kind in NO_TRAINABLE_ARG:
        del base["trainable"]
    return {"class_name": kind, "config": {**base, **keras_cfg}}


def _dense(c: dict, name: str, kind: str) -> dict:
    return {"units": c["units"], "activation": _activation(c["activation"], name, kind), "use_bias": c["use_bias"],
            **{k: _keras_object(c[k], INITIALIZERS, "initializer", name, kind)
               for k in ("kernel_initializer", "bias_initializer")},
            **{k: _keras_object(c[k], REGULARIZERS, "regularizer", name, kind)
               for k in ("kernel_regularizer", "bias_regularizer", "activity_regularizer")}}


def _batch_norm(c: dict, name: str, kind: str) -> dict:
    inits = ("beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer")
    return {"axis": c["axis"], "momentum": c["momentum"], "epsilon": c["epsilon"], "center": c["center"],
            "scale": c["scale"], **{k: _keras_object(c[k], INITIALIZERS, "initializer", name, kind) for k in inits}}


def _embedding(c: dict, name: str, kind: str) -> dict:
    return {"input_dim": c["input_dim"], "output_dim": c["output_dim"],
            "embeddings_initializer": _keras_object(c["embeddings_initializer"], INITIALIZERS, "initializer", name,
                                                    kind),
            "embeddings_regularizer": _keras_object(c["embeddings_regularizer"], REGULARIZERS, "regularizer", name,
                                                    kind)}


EXPORTS = {
    "Dense": _dense,
    "Activation": lambda c, n, k: {"activation": _activation(c["activation"], n, k)},
    "Dropout": lambda c, n, k: {"rate": c["rate"], "seed": c["seed"]},
    "Flatten": lambda c, n, k: {"data_format": "channels_last"},
    "Reshape": lambda c, n, k: {"target_shape": list(c["target_shape"])},
    "Concatenate": lambda c, n, k: {"axis": c["axis"]},
    "Add": lambda c, n, k: {},
    "BatchNormalization": _batch_norm,
    "Embedding": _embedding,
    "GlobalAveragePooling1D": lambda c, n, k: {"data_format": "channels_last", "keepdims": False},
}

# the order of a layer's weights in Keras (layer.weights, and vars/0, vars/1... of a .keras file)
WEIGHT_ORDER = {"Dense": ("kernel", "bias"), "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
                "Embedding": ("embeddings",)}


# classes whose Keras constructor takes no `trainable` (SpatialDropout1D/2D)
NO_TRAINABLE_ARG: set[str] = set()
# class -> function(Keras config) -> its weight names, where they depend on more than use_bias, center and scale
WEIGHT_NAMES: dict = {}
# class -> where model.weights.h5 keeps its arrays below layers/<name>/ ("": vars/ itself; "cell": cell/vars/)
WEIGHT_PATHS: dict[str, tuple[str, ...]] = {}


def keras_weights(layer) -> list[np.ndarray]:
    """The layer's arrays in Keras's order (float32)."""
    own = layer.get_weights()
    return [np.asarray(own[k], np.float32) for k in WEIGHT_ORDER.get(type(layer).registered_name, ()) if k in own]


# --- Keras -> nntrain ----------------------------------------------------------------------------------------
def _from_activation(spec, layer: str, kind: str) -> str:
    if isinstance(spec, dict):  # a serialized function: {"class_name": "function", "config": "relu", ...}
        spec = spec.get("config") if isinstance(spec.get("config"), str) else spec.get("class_name")
    if spec not in KERAS_ACTIVATIONS:
        raise _refuse(layer, kind, f"activation {spec!r} has no nntrain equivalent; nntrain has "
                                   f"{', '.join(sorted(set(KERAS_ACTIVATIONS.values())))}")
    return KERAS_ACTIVATIONS[spec]


def _from_object(spec, table: dict, module: str, layer: str, kind: str):
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = {"class_name": spec, "config": {}}
    reverse = {v: k for k, v in table.items()}
    reverse.update({k: k for k in table})  # "glorot_uniform" as Keras also writes it
    cls = spec.get("class_name")
    if cls not in reverse:
        raise _refuse(layer, kind, f"{module} {cls!r} has no nntrain equivalent; nntrain has "
                                   f"{', '.join(table.values())}")
    args = {k: v for k, v in (spec.get("config") or {}).items() if v is not None and k not in ("input_axes",
                                                                                              "output_axes")}
    return {"name": reverse[cls], **args} if args else reverse[cls]


# Keras argument -> how nntrain takes it: "same", or a converter (value, layer, kind) -> value
_INIT = ("initializer", INITIALIZERS)
_REG = ("regularizer", REGULARIZERS)
IMPORTS = {
    "Dense": {"units": "same", "activation": "act", "use_bias": "same", "kernel_initializer": _INIT,
              "bias_initializer": _INIT, "kernel_regularizer": _REG, "bias_regularizer": _REG,
              "activity_regularizer": _REG},
    "Activation": {"activation": "act"},
    "Dropout": {"rate": "same", "seed": "same"},
    "Flatten": {},
    "Reshape": {"target_shape": "same"},
    "Concatenate": {"axis": "same"},
    "Add": {},
    "BatchNormalization": {"axis": "axis", "momentum": "same", "epsilon": "same", "center": "same", "scale": "same",
                           "beta_initializer": _INIT, "gamma_initializer": _INIT, "moving_mean_initializer": _INIT,
                           "moving_variance_initializer": _INIT},
    "Embedding": {"input_dim": "same", "output_dim": "same", "embeddings_initializer": _INIT,
                  "embeddings_regularizer": _REG},
    "GlobalAveragePooling1D": {},
}


def from_keras(class_name: str, config: dict, rank: int | None = None) -> dict:
    """An nntrain layer entry ({"type": ..., "name": ..., arguments}) for a Keras layer config.

    Args:
        rank: the layer's input rank without the batch axis, to read a BatchNormalization axis given as a number.

    Raises:
        ConfigError: a layer type or argument nntrain has no equivalent for, naming the layer.
    """
    name = str(config.get("name", class_name))
    if class_name not in IMPORTS:
        raise _refuse(name, class_name, f"nntrain has no such layer; it reads {', '.join(IMPORTS)}")
    known = IMPORTS[class_name]
    entry: dict = {"type": class_name, "name": name}
    if config.get("trainable") is False:
        entry["trainable"] = False
    for key, value in config.items():
        how = known.get(key)
        if how is None:
            if key in IGNORED or (key in NEUTRAL and value == NEUTRAL[key]) or (key == "axis" and value == -1):
                continue
            raise _refuse(name, class_name, f"Keras argument {key}={value!r} has no nntrain equivalent")
        if how == "same":
            entry[key] = list(value) if isinstance(value, tuple) else value
        elif how == "act":
            entry[key] = _from_activation(value, name, class_name)
        elif callable(how):
            entry[key] = how(value, name, class_name)
        elif how == "axis":
            axis = value[0] if isinstance(value, list) and len(value) == 1 else value
            if axis != -1 and not (rank is not None and axis == rank):
                raise _refuse(name, class_name, f"axis={value!r}: nntrain normalizes the last axis only")
        else:
            converted = _from_object(value, how[1], how[0], name, class_name)
            if converted is not None:
                entry[key] = converted
    return entry


def nntrain_weights(class_name: str, config: dict, arrays: list[np.ndarray], layer: str) -> dict[str, np.ndarray]:
    """A Keras layer's weight arrays (in Keras's order) by nntrain weight name.

    Raises:
        ConfigError: not as many arrays as the layer's configuration has weights.
    """
    order = list(WEIGHT_NAMES[class_name](config) if class_name in WEIGHT_NAMES else WEIGHT_ORDER.get(class_name, ()))
    if config.get("use_bias", True) is False and "bias" in order:
        order.remove("bias")
    if class_name in ("BatchNormalization", "LayerNormalization"):
        order = [k for k in order if not (k == "gamma" and config.get("scale") is False)
                 and not (k == "beta" and config.get("center") is False)]
    if len(arrays) != len(order):
        raise _refuse(layer, class_name, f"the file holds {len(arrays)} weight arrays, the layer has "
                                         f"{len(order)} ({', '.join(order) or 'none'})")
    return dict(zip(order, (np.asarray(a) for a in arrays)))


__all__ = ["EXPORTS", "IMPORTS", "NO_TRAINABLE_ARG", "WEIGHT_NAMES", "WEIGHT_ORDER", "WEIGHT_PATHS", "from_keras",
           "keras_weights", "nntrain_weights", "to_keras"]

from nntrain.interop import keras_layers_more  # noqa: F401  (convolution, pooling, recurrent: added above)
