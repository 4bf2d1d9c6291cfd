"""The sections of a config, checked and resolved in one pass: every problem is collected as an Issue with its key
path, and every buildable entry (layers, loss, optimizer, callbacks) becomes a Recipe (config/resolve.py)."""

from __future__ import annotations

from pathlib import Path

from nntrain.config.data_schema import DATA_SCHEMA
from nntrain.config.resolve import (Recipe, Recipes, entry, resolve_callbacks, resolve_loss, resolve_metrics,
                                    resolve_optimizer)
from nntrain.config.schema import MODEL_INPUTS, NAMES, TRAINING_SCHEMA
from nntrain.config.validator import Issue, type_name, validate
from nntrain.registry import did_you_mean
from nntrain.runs.folder import name_problem

# `search` is `nntrain tune`'s search space (config/search.py); every other command leaves it out
SECTIONS = ["name", "seed", "data", "model", "loss", "loss_weights", "metrics", "optimizer", "training", "callbacks",
            "search"]
LAYER_KEYS = ("type", "name", "inputs", "trainable")
_LOSS_WEIGHTS = {"anyOf": [{"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
                           {"type": "array", "items": {"type": "number", "minimum": 0}}]}


def check_sections(tree: dict, base_dir: Path) -> tuple[dict, Recipes, list[Issue]]:
    """Check a whole config tree (relative paths from `base_dir`). Returns (resolved tree, recipes, issues)."""
    issues: list[Issue] = []
    out = _name_and_seed(tree, issues)
    recipes = Recipes()
    if "data" in tree:
        out["data"] = _data(tree["data"], issues)
    if "model" in tree:
        out["model"], recipes.layers = resolve_model(tree["model"], issues)
    out["loss"], recipes.loss = resolve_loss(tree["loss"], issues) if "loss" in tree else (None, None)
    out["loss_weights"] = None
    if tree.get("loss_weights") is not None:
        out["loss_weights"], sub = validate(tree["loss_weights"], _LOSS_WEIGHTS, ("loss_weights",))
        issues += sub
    out["metrics"] = resolve_metrics(tree.get("metrics", []), issues)
    out["optimizer"], recipes.optimizer = resolve_optimizer(tree.get("optimizer", "rmsprop"), issues)
    out["training"], sub = validate(tree.get("training") or {}, TRAINING_SCHEMA, ("training",))
    issues += sub
    out["callbacks"], recipes.callbacks = resolve_callbacks(tree.get("callbacks") or [], issues, base_dir)
    if not any(issue.path[:2] == ("model", "outputs") for issue in issues):  # else outputs are not known
        _cross_checks(out, issues)
    return out, recipes, issues


def _name_and_seed(tree: dict, issues: list[Issue]) -> dict:
    """Unknown and missing sections; the run's name and seed."""
    out: dict = {}
    for key in tree:
        if key not in SECTIONS:
            issues.append(Issue((key,), f"unknown section `{key}`{did_you_mean(str(key), SECTIONS)}; "
                                        f"sections are: {', '.join(SECTIONS)}", key=True))
    for key in ("data", "model", "loss"):
        if key not in tree:
            issues.append(Issue((), f"missing section `{key}`"))
    if "name" in tree:
        problem = name_problem(tree["name"])
        if problem is not None:
            issues.append(Issue(("name",), problem))
        else:
            out["name"] = tree["name"]
    if "seed" in tree:
        seed = tree["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            issues.append(Issue(("seed",), f"expected a non-negative integer, got {type_name(seed)} {seed!r}"))
        else:
            out["seed"] = seed
    return out


def _data(value, issues: list[Issue]):
    data, sub = validate(value, DATA_SCHEMA, ("data",))
    issues += sub
    if not sub and isinstance(data, dict):
        if "dataset" not in data and "train" not in data:
            issues.append(Issue(("data",), "say where the data comes from: `dataset: NAME` (see `nntrain "
                                           "datasets`) or `train: PATH`"))
        if "dataset" in data and "train" in data:
            issues.append(Issue(("data", "train"), "give either `dataset` or `train`, not both"))
    return data


def _cross_checks(cfg: dict, issues: list[Issue]) -> None:
    model, loss = cfg.get("model"), cfg.get("loss")
    if not isinstance(model, dict):
        return
    outputs = model.get("outputs") or []
    if isinstance(loss, dict) and "name" not in loss and outputs:
        for k in loss:
            if k not in outputs:
                issues.append(Issue(("loss", k), f"no output named `{k}`{did_you_mean(k, outputs)}; outputs: "
                                                 f"{', '.join(outputs)}", key=True))
        for o in outputs:
            if o not in loss:
                issues.append(Issue(("loss",), f"no loss for output `{o}`; give one loss per output"))
    lw = cfg.get("loss_weights")
    if isinstance(lw, dict) and outputs:
        for k in lw:
            if k not in outputs:
                issues.append(Issue(("loss_weights", k), f"no output named `{k}`{did_you_mean(k, outputs)}",
                                    key=True))
    if isinstance(cfg.get("metrics"), dict) and outputs:
        for k in cfg["metrics"]:
            if k not in outputs:
                issues.append(Issue(("metrics", k), f"no output named `{k}`{did_you_mean(k, outputs)}", key=True))


# --- the model section ----------------------------------------------------------------------------------
def resolve_model(value, issues: list[Issue]) -> tuple[dict | None, list[Recipe]]:
    """The model section -> (resolved entry, one Recipe per layer in config order)."""
    if not isinstance(value, dict):
        issues.append(Issue(("model",), f"expected a mapping with `layers`, got {type_name(value)}"))
        return None, []
    allowed = ["name", "input_shape", "inputs", "layers", "outputs"]
    for k in value:
        if k not in allowed:
            issues.append(Issue(("model", k), f"unknown key `{k}`{did_you_mean(str(k), allowed)}; valid keys: "
                                              f"{', '.join(allowed)}", key=True))
    layers = value.get("layers")
    if not isinstance(layers, list) or not layers:
        issues.append(Issue(("model", "layers") if "layers" in value else ("model",),
                            "expected `layers:` with a non-empty list of layers"))
        return None, []
    out = {k: v for k, v in value.items() if k in ("name", "input_shape")}
    out["layers"], recipes, names = [], [], []
    ok = True
    for i, item in enumerate(layers):
        if isinstance(item, dict) and "reuse" in item:
            reused = _reuse(item, ("model", "layers", i), "inputs" in value, issues)
            ok = ok and reused is not None
            if reused is not None:
                out["layers"].append(reused)
            continue
        layer = _layer(item, ("model", "layers", i), "inputs" in value, names, issues)
        ok = ok and layer is not None
        if layer is not None:
            out["layers"].append(layer[0])
            recipes.append(layer[1])
    _wiring(value, out, issues)
    if ok:
        inputs = out["inputs"] if isinstance(out.get("inputs"), dict) else {}
        _outputs_are_layers(out, value.get("outputs"), inputs, recipes, issues)
    return out, recipes


def _reuse(item: dict, path: tuple, functional: bool, issues: list[Issue]) -> dict | None:
    """A shared layer's further use, `{reuse: LAYER, inputs: NAME, name: NAME}` -> its resolved entry, or None."""
    allowed = ("reuse", "inputs", "name")
    extra = [k for k in item if k not in allowed]
    if extra:
        issues.append(Issue(path + (extra[0],), f"a `reuse:` entry applies an earlier layer (with its weights) to "
                                                f"another input and takes only {', '.join(allowed)}; got `{extra[0]}`",
                            key=True))
        return None
    if not functional:
        issues.append(Issue(path + ("reuse",), "`reuse` shares a layer in a functional model; declare "
                                               "`model.inputs` and say what each layer reads with `inputs:`"))
        return None
    _, sub = validate(item, {"type": "object", "required": ["reuse", "inputs"],
                             "properties": {"reuse": {"type": "string"}, "inputs": NAMES, "name": {"type": "string"}}},
                      path)
    if sub:
        issues += sub
        return None
    return {"reuse": item["reuse"], **({"name": item["name"]} if "name" in item else {}),
            "inputs": [item["inputs"]] if isinstance(item["inputs"], str) else list(item["inputs"])}


def _outputs_are_layers(out: dict, written, inputs, recipes: list[Recipe], issues: list[Issue]) -> None:
    """Each `reuse:` names a layer, and each output a layer or a use of one (its own name, or the one the model
    gives an unnamed layer): else an Issue at the entry, so a typo is not reported as losses and metrics without
    an output."""
    from nntrain.engine.model import assign_names

    layers = [recipe.checked for recipe in recipes]
    assign_names(layers)  # the names build_model gives the same layers
    names = [layer.name for layer in layers]
    uses: dict[str, int] = {}
    for i, entry in enumerate(out["layers"]):
        if "reuse" not in entry:
            continue
        if entry["reuse"] not in names:
            issues.append(Issue(("model", "layers", i, "reuse"), f"`{entry['reuse']}` is not a layer"
                                f"{did_you_mean(entry['reuse'], names)}; layers: {', '.join(names)}"))
            continue
        uses[entry["reuse"]] = uses.get(entry["reuse"], 1) + 1
        entry.setdefault("name", f"{entry['reuse']}_use{uses[entry['reuse']]}")
        names.append(entry["name"])
    if "outputs" not in out:
        return
    for i, name in enumerate(out["outputs"]):
        if not isinstance(name, str) or name not in names + list(inputs):
            where = ("model", "outputs", i) if isinstance(written, list) else ("model", "outputs")
            issues.append(Issue(where, f"`{name}` is not a layer{did_you_mean(str(name), names)}; layers: "
                                       f"{', '.join(names)}"))


def _layer(item, path: tuple, functional: bool, names: list[str], issues: list[Issue]):
    """One layer item -> (resolved entry with every argument, Recipe), or None; `names` collects layer names."""
    from nntrain.engine.layers import LAYERS

    parsed = canonical_layer(item, path, issues)
    if parsed is None:
        return None
    ltype, args, meta, apath = parsed
    if "inputs" in meta:
        _, sub = validate(meta["inputs"], NAMES, apath + ("inputs",))
        if sub:
            issues += sub
            return None
    if "trainable" in meta and not isinstance(meta["trainable"], bool):
        issues.append(Issue(apath + ("trainable",), f"expected true or false, got {meta['trainable']!r}"))
        return None
    if "name" in meta and (not isinstance(meta["name"], str) or not meta["name"]):
        issues.append(Issue(apath + ("name",), f"expected a layer name, got {meta['name']!r}"))
        return None
    if functional and "inputs" not in meta:
        issues.append(Issue(apath, "in a functional model each layer says what it reads: add `inputs: NAME`"))
    if not functional and "inputs" in meta:
        issues.append(Issue(apath + ("inputs",), "`inputs` wires a functional model; declare `model.inputs` "
                                                 "too, or drop it for a Sequential list"))
    recipe = entry(LAYERS, ltype, args, apath, issues,
                   extra={"name": meta.get("name"), "trainable": meta.get("trainable", True)})
    if recipe is None:
        return None
    full = {k: v for k, v in recipe.checked.get_config().items() if k not in ("name", "trainable")}
    resolved = {"type": LAYERS.canonical(ltype), **meta, **full}
    if "inputs" in meta:
        resolved["inputs"] = [meta["inputs"]] if isinstance(meta["inputs"], str) else list(meta["inputs"])
    if "name" in meta:
        if meta["name"] in names:
            issues.append(Issue(apath + ("name",), f"two layers are named `{meta['name']}`"))
        names.append(meta["name"])
    return resolved, recipe


def canonical_layer(item, path: tuple, issues: list[Issue]):
    """A layer item in either form -> (type, args, meta{name, inputs, trainable}, args_path), or None."""
    if not isinstance(item, dict):
        issues.append(Issue(path, f"expected a layer like `{{Dense: {{units: 8}}}}` or "
                                  f"`{{type: Dense, units: 8}}`, got {type_name(item)} {item!r}"))
        return None
    if "type" in item:
        args = {k: v for k, v in item.items() if k not in LAYER_KEYS}
        meta = {k: item[k] for k in ("name", "inputs", "trainable") if k in item}
        return item["type"], args, meta, path
    if len(item) == 1:
        (ltype, args), = item.items()
        args = dict(args or {}) if isinstance(args, dict) or args is None else args
        if not isinstance(args, dict):
            issues.append(Issue(path + (ltype,), f"arguments of {ltype} must be a mapping, got {type_name(args)}"))
            return None
        meta = {k: args.pop(k) for k in ("name", "inputs", "trainable") if k in args}
        return ltype, args, meta, path + (ltype,)
    issues.append(Issue(path, f"a layer needs `type:` (e.g. type: Dense) or the form `{{Dense: {{...}}}}`; "
                              f"got keys {sorted(map(str, item))}"))
    return None


def _wiring(value: dict, out: dict, issues: list[Issue]) -> None:
    """A functional model's inputs and outputs, or a Sequential one's input shape."""
    if "inputs" in value:
        out["inputs"], sub = validate(value["inputs"], MODEL_INPUTS, ("model", "inputs"))
        issues += sub + [Issue(("model", "inputs", k), f"an input name must be a string, got {type_name(k)} {k!r}",
                               key=True) for k in (out["inputs"] if not sub else {}) if not isinstance(k, str)]
        outputs = value.get("outputs")
        if outputs is None:
            issues.append(Issue(("model",), "a functional model needs `outputs:` naming its output layer(s)"))
        else:
            _, sub = validate(outputs, NAMES, ("model", "outputs"))
            issues += sub
            if not sub:
                out["outputs"] = [outputs] if isinstance(outputs, str) else list(outputs)
    elif "outputs" in value:
        issues.append(Issue(("model", "outputs"), "`outputs` belongs to a functional model (with `model.inputs`)",
                            key=True))
    if "input_shape" in value:
        _, sub = validate(value["input_shape"], {"type": "array", "items": {"type": ["integer", "null"]}},
                          ("model", "input_shape"))
        issues += sub
