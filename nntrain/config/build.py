"""From a loaded RunConfig to engine objects: the model (shapes checked before any data is loaded), its compile
arguments and the callbacks, each made from the Recipes the checking pass left (fresh ones on every call after the
first). Errors point at the config entry they carry (`NNTrainError.path`) or at the layer they name
(`NNTrainError.layer`)."""

from __future__ import annotations

from pathlib import Path

from nntrain.config import RunConfig
from nntrain.config.schema import FILE_KEYS
from nntrain.errors import ConfigError, NNTrainError


def build_model(cfg: RunConfig, data_inputs: dict | None = None):
    """Build (and shape-check) the model of a config; every call builds new layers.

    Args:
        data_inputs: what the data says of each input, {name: {"shape": [...], "sparse": bool, "dtype": str}};
            a single-input dataset may use any name. Shapes in the config take precedence.
    """
    from nntrain.engine.model import assign_names

    try:
        layers = [recipe.make() for recipe in cfg.recipes.layers]
    except NNTrainError as exc:
        raise cfg.locate(exc) from None
    assign_names(layers)
    for entry, layer in zip([e for e in cfg["model"]["layers"] if "reuse" not in e], layers):
        entry["name"] = layer.name  # the resolved config records every layer's name
    try:
        return _graph(cfg, layers, data_inputs)
    except NNTrainError as exc:
        raise cfg.locate(exc, _where(cfg, exc, ("model",))) from None
    except (MemoryError, ValueError) as exc:  # weights NumPy cannot allocate (too large, too many dimensions)
        raise cfg.locate(ConfigError(f"the model's weights cannot be allocated: {exc}"), ("model",)) from None


def _graph(cfg: RunConfig, layers: list, data_inputs: dict | None):
    from nntrain.engine.layers import Input
    from nntrain.engine.model import Model, Sequential

    mcfg = cfg["model"]
    seed, dtype = cfg["seed"], cfg["training"]["dtype"]
    if "inputs" in mcfg:
        inputs = [Input(**_input_spec(v, data_inputs, n, cfg)) for n, v in mcfg["inputs"].items()]
        nodes = _nodes(mcfg["layers"], layers)
        return Model(inputs, nodes, mcfg["outputs"], name=mcfg.get("name", "model"), seed=seed, dtype=dtype)
    if isinstance(layers[0], Input):
        return Sequential(layers, name=mcfg.get("name", "sequential"), seed=seed, dtype=dtype)
    shape = mcfg.get("input_shape")
    only = next(iter(data_inputs.values())) if data_inputs and len(data_inputs) == 1 else None
    if shape is None:
        if only is None:
            raise cfg.locate(ConfigError("the input shape is unknown; add `input_shape: [FEATURES]` to `model:` or "
                                         "start the layers with an Input"), ("model",))
        shape = list(only["shape"])
    inp = Input(shape=shape, name="input", sparse=bool(only and only.get("sparse")),
                dtype=(only or {}).get("dtype") if (only or {}).get("dtype") in ("int32", "int64") else "float32")
    return Sequential([inp, *layers], name=mcfg.get("name", "sequential"), seed=seed, dtype=dtype)


def _nodes(entries: list[dict], layers: list) -> list:
    """A functional model's nodes in config order: each layer entry, and each `reuse:` entry applying an earlier
    layer (the same object, so the same weights) to its own inputs."""
    from nntrain.engine.model import Node

    by_name = {layer.name: layer for layer in layers}
    own = iter(layers)
    return [Node(by_name[e["reuse"]], list(e["inputs"]), e["name"]) if "reuse" in e
            else Node(next(own), list(e["inputs"])) for e in entries]


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


def compile_model(model, cfg: RunConfig) -> None:
    """Give the model its losses, optimizer and metrics: new objects on every call after the first."""
    loss = cfg.recipes.loss
    try:
        if isinstance(loss, dict):
            losses = {output: recipe.make() for output, recipe in loss.items()}
        else:  # one loss for every output, each its own object
            losses = {output: loss.make() for output in model.output_names}
        model.compile(loss=losses, optimizer=cfg.recipes.optimizer.make(), metrics=cfg["metrics"],
                      loss_weights=cfg["loss_weights"])
    except NNTrainError as exc:
        raise cfg.locate(exc, _where(cfg, exc, ("loss",))) from None


def build_callbacks(cfg: RunConfig, run_dir: Path | None = None) -> list:
    """The config's callbacks; their file paths (csv_logger, tensorboard, model_checkpoint) are relative to the run
    folder and stay inside it, unless the callback's entry says `outside_run_folder: true`."""
    out = []
    for spec, recipe in zip(cfg["callbacks"], cfg.recipes.callbacks):
        moved = {}
        if run_dir is not None:
            # loading refused paths that leave the run folder unless the entry says `outside_run_folder: true`
            moved = {k: str(run_dir / spec[k]) for k in FILE_KEYS if k in spec and not Path(spec[k]).is_absolute()}
        out.append(recipe.make(**moved))
    return out
