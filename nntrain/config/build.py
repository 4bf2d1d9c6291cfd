"""From a validated RunConfig to engine objects: the model (shapes checked before any data is loaded),
its compile arguments and the callbacks. Errors point at the config entry they carry (`NNTrainError.path`) or at
the layer they name (`NNTrainError.layer`)."""

from __future__ import annotations

from pathlib import Path

from nntrain.config import RunConfig
from nntrain.errors import ConfigError, NNTrainError


def _input_spec(value, from_data, name: str, cfg: RunConfig):
    """An input entry (shape list, null, or {shape, sparse, dtype}) -> Input kwargs."""
    spec = {"shape": value} if isinstance(value, list) else dict(value or {})
    data = from_data.get(name) if from_data else None
    if spec.get("shape") is None:
        if data is None:
            raise cfg.locate(ConfigError(f"its shape is not given and the data does not say it; write "
                                         f"`{name}: [FEATURES]`"), ("model", "inputs", name))
        spec["shape"] = list(data["shape"])
    if data is not None:
        spec.setdefault("sparse", bool(data.get("sparse", False)))
        if data.get("dtype") in ("int32", "int64"):
            spec.setdefault("dtype", data["dtype"])
    return {"name": name, **spec}


def _where(cfg: RunConfig, exc: NNTrainError, default: tuple) -> tuple:
    """The key path of the config entry an engine error is about: the path it carries, else the entry of the
    layer, input or output it names, else `default`."""
    if exc.path:
        return exc.path
    model = cfg["model"]
    for i, entry in enumerate(model["layers"]):
        if exc.layer is not None and entry.get("name") == exc.layer:
            return ("model", "layers", i)
    if exc.layer in (model.get("inputs") or {}):
        return ("model", "inputs", exc.layer)
    if exc.layer in (model.get("outputs") or []):
        return ("model", "outputs")
    return default


def build_model(cfg: RunConfig, data_inputs: dict | None = None):
    """Build (and shape-check) the model of a config.

    Args:
        data_inputs: what the data says of each input, {name: {"shape": [...], "sparse": bool, "dtype": str}};
            a single-input dataset may use any name. Shapes in the config take precedence.
    """
    from nntrain.engine.layers import LAYERS, Input
    from nntrain.engine.model import Model, Node, Sequential, assign_names

    mcfg = cfg["model"]
    seed, dtype = cfg["seed"], cfg["training"]["dtype"]
    layers = []
    for i, entry in enumerate(mcfg["layers"]):
        args = {k: v for k, v in entry.items() if k not in ("type", "inputs")}
        try:
            layers.append(LAYERS.get(entry["type"])(**args))
        except NNTrainError as exc:
            raise cfg.locate(exc, ("model", "layers", i)) from None
    assign_names(layers)
    for entry, layer in zip(mcfg["layers"], layers):
        entry["name"] = layer.name  # the resolved config records every layer's name
    try:
        if "inputs" in mcfg:
            inputs = [Input(**_input_spec(v, data_inputs, n, cfg)) for n, v in mcfg["inputs"].items()]
            nodes = [Node(layer, list(entry["inputs"])) for entry, layer in zip(mcfg["layers"], layers)]
            return Model(inputs, nodes, mcfg["outputs"], name=mcfg.get("name", "model"), seed=seed, dtype=dtype)
        if isinstance(layers[0], Input):
            return Sequential(layers, name=mcfg.get("name", "sequential"), seed=seed, dtype=dtype)
        shape = mcfg.get("input_shape")
        only = next(iter(data_inputs.values())) if data_inputs and len(data_inputs) == 1 else None
        if shape is None:
            if only is None:
                raise cfg.locate(ConfigError("the input shape is unknown; add `input_shape: [FEATURES]` to `model:` "
                                             "or start the layers with an Input"), ("model",))
            shape = list(only["shape"])
        inp = Input(shape=shape, name="input", sparse=bool(only and only.get("sparse")),
                    dtype=(only or {}).get("dtype") if (only or {}).get("dtype") in ("int32", "int64") else "float32")
        return Sequential([inp, *layers], name=mcfg.get("name", "sequential"), seed=seed, dtype=dtype)
    except NNTrainError as exc:
        raise cfg.locate(exc, _where(cfg, exc, ("model",))) from None


def compile_model(model, cfg: RunConfig) -> None:
    loss = cfg["loss"]
    try:
        model.compile(loss=loss, optimizer=dict(cfg["optimizer"]), metrics=cfg["metrics"],
                      loss_weights=cfg["loss_weights"])
    except NNTrainError as exc:
        raise cfg.locate(exc, _where(cfg, exc, ("loss",))) from None


def build_callbacks(cfg: RunConfig, run_dir: Path | None = None) -> list:
    """The config's callbacks; relative file paths (csv_logger, tensorboard, model_checkpoint) land in the run
    folder."""
    from nntrain.training.callbacks import build_callback

    out = []
    for spec in cfg["callbacks"]:
        spec = dict(spec)
        if run_dir is not None:
            for key in ("filename", "log_dir", "filepath"):
                if key in spec and not Path(spec[key]).is_absolute():
                    spec[key] = str(run_dir / spec[key])
        out.append(build_callback(spec, cfg.base_dir))
    return out
