"""Validation of each config section, collecting every problem as an Issue with its key path.

Registry-backed values (layers, losses, metrics, optimizers, schedules, callbacks) are checked against the
constructor's signature (unknown keys with did-you-mean, types from annotations), then built once so the
class's own checks (e.g. Dense units > 0) report here too, before any data is touched.
"""

from __future__ import annotations

from pathlib import Path

from nntrain.config.validator import Issue, type_name, validate
from nntrain.config.schema import TRAINING_SCHEMA, signature_schema
from nntrain.errors import ConfigError
from nntrain.registry import Registry, did_you_mean

SECTIONS = ["name", "seed", "data", "model", "loss", "loss_weights", "metrics", "optimizer", "training", "callbacks"]
LAYER_KEYS = ("type", "name", "inputs", "trainable")


def check_sections(tree: dict, base_dir: Path) -> tuple[dict, list[Issue]]:
    """Validate a whole config tree (relative paths from `base_dir`). Returns (resolved tree, issues)."""
    from nntrain.config.data_schema import DATA_SCHEMA

    issues: list[Issue] = []
    out: dict = {}
    for key in tree:
        if key not in SECTIONS:
            issues.append(Issue((key,), f"unknown section `{key}`{did_you_mean(str(key), SECTIONS)}; "
                                        f"sections are: {', '.join(SECTIONS)}", key=True))
    for key in ("data", "model", "loss"):
        if key not in tree:
            issues.append(Issue((), f"missing section `{key}`"))
    if "name" in tree:
        if not isinstance(tree["name"], str) or not tree["name"].strip() or "/" in tree["name"]:
            issues.append(Issue(("name",), f"expected a run name without '/', got {tree['name']!r}"))
        else:
            out["name"] = tree["name"]
    if "seed" in tree:
        seed = tree["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            issues.append(Issue(("seed",), f"expected a non-negative integer, got {type_name(seed)} {seed!r}"))
        else:
            out["seed"] = seed
    if "data" in tree:
        data, sub = validate(tree["data"], DATA_SCHEMA, ("data",))
        issues += sub
        if not sub and isinstance(data, dict):
            if "dataset" not in data and "train" not in data:
                issues.append(Issue(("data",), "say where the data comes from: `dataset: NAME` (see `nntrain "
                                               "datasets`) or `train: PATH`"))
            if "dataset" in data and "train" in data:
                issues.append(Issue(("data", "train"), "give either `dataset` or `train`, not both"))
        out["data"] = data
    if "model" in tree:
        out["model"] = _model(tree["model"], issues)
    out["loss"] = _loss(tree.get("loss"), issues) if "loss" in tree else None
    if tree.get("loss_weights") is not None:
        lw, sub = validate(tree["loss_weights"], {"anyOf": [
            {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
            {"type": "array", "items": {"type": "number", "minimum": 0}}]}, ("loss_weights",))
        issues += sub
        out["loss_weights"] = lw
    else:
        out["loss_weights"] = None
    out["metrics"] = _metrics(tree.get("metrics", []), issues)
    out["optimizer"] = _optimizer(tree.get("optimizer", "rmsprop"), issues)
    training, sub = validate(tree.get("training") or {}, TRAINING_SCHEMA, ("training",))
    issues += sub
    out["training"] = training
    out["callbacks"] = _callbacks(tree.get("callbacks") or [], issues, base_dir)
    _cross_checks(out, issues)
    return out, issues


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


# --- registry-backed values -----------------------------------------------------------------------------
def build_checked(registry: Registry, type_name_, args: dict, path: tuple, issues: list[Issue], skip=(), **extra):
    """Check a registered name and its `args` against the constructor; build it. None when it fails.
    `extra` arguments (a layer's name, trainable) are passed through unchecked."""
    name = type_name_
    if not isinstance(name, str) or name not in registry:
        issues.append(Issue(path, f"unknown {registry.kind} {name!r}{did_you_mean(str(name), registry.names())}; "
                                  f"valid: {', '.join(registry.names())}"))
        return None
    cls = registry.get(name)
    schema = signature_schema(cls, skip=skip + tuple(extra))
    if not isinstance(args, dict):
        issues.append(Issue(path, f"arguments of {name} must be a mapping, got {type_name(args)} {args!r}"))
        return None
    _, sub = validate(args, {**schema, "required": []}, path)
    if sub:
        issues += sub
        # still let the constructor judge the well-formed arguments, so all problems show at once
        bad = {i.path[len(path)] for i in sub if len(i.path) > len(path)}
        try:
            cls(**{k: v for k, v in args.items() if k not in bad}, **extra)
        except ConfigError as exc:
            issues.append(Issue(path, str(exc)))
        except (TypeError, ValueError):
            pass
        return None
    missing = [k for k in schema.get("required", []) if k not in args]
    if missing:
        issues.append(Issue(path, f"{name} needs `{missing[0]}`" + (f" (and {', '.join(missing[1:])})"
                                                                    if missing[1:] else "")))
        return None
    try:
        return cls(**args, **extra)
    except ConfigError as exc:
        issues.append(Issue(path, str(exc)))
    except (TypeError, ValueError) as exc:
        issues.append(Issue(path, f"{name}: {exc}"))
    return None


def split_named(value, path: tuple, issues: list[Issue], what: str):
    """`name`, {"name": name, **args} or {name: {args}} -> (name, args, args_path)."""
    if isinstance(value, str):
        return value, {}, path
    if isinstance(value, dict):
        if "name" in value:
            args = {k: v for k, v in value.items() if k != "name"}
            return value["name"], args, path
        if len(value) == 1:
            (name, args), = value.items()
            return name, (args if args is not None else {}), path + (name,)
    issues.append(Issue(path, f"expected a {what} name or {{name: ..., arguments}}, got {type_name(value)} {value!r}"))
    return None, None, path


def _loss(value, issues):
    from nntrain.engine.losses import LOSSES

    def one(v, path):
        name, args, apath = split_named(v, path, issues, "loss")
        if name is None:
            return None
        built = build_checked(LOSSES, name, args, apath, issues)
        return None if built is None else {"name": LOSSES.canonical(name), **built.get_config()}

    if isinstance(value, dict) and "name" not in value and not (len(value) == 1 and next(iter(value)) in LOSSES):
        return {k: one(v, ("loss", k)) for k, v in value.items()}
    return one(value, ("loss",))


def _metric_list(items, path, issues):
    from nntrain.engine.metrics import METRICS

    if not isinstance(items, list):
        issues.append(Issue(path, f"expected a list of metric names, got {type_name(items)} {items!r}"))
        return []
    out = []
    for i, item in enumerate(items):
        name, args, apath = split_named(item, path + (i,), issues, "metric")
        if name is None:
            continue
        built = build_checked(METRICS, name, args, apath, issues)
        if built is not None:
            out.append(item if isinstance(item, str) else {"name": name, **args})
    return out


def _metrics(value, issues):
    if isinstance(value, dict):
        return {k: _metric_list(v, ("metrics", k), issues) for k, v in value.items()}
    return _metric_list(value, ("metrics",), issues)


def _optimizer(value, issues):
    from nntrain.engine.optimizers import OPTIMIZERS
    from nntrain.engine.schedules import SCHEDULES

    name, args, path = split_named(value, ("optimizer",), issues, "optimizer")
    if name is None:
        return None
    args = dict(args)
    if "schedule" in args:
        sname, sargs, spath = split_named(args.pop("schedule"), path + ("schedule",), issues, "schedule")
        if sname is None:
            return None
        sargs = dict(sargs)
        if "initial_learning_rate" in signature_schema(SCHEDULES.get(sname) if sname in SCHEDULES else object)[
                "properties"] and "initial_learning_rate" not in sargs:
            sargs["initial_learning_rate"] = args.get("learning_rate", _default_lr(OPTIMIZERS, name))
        schedule = build_checked(SCHEDULES, sname, sargs, spath, issues)
        if schedule is None:
            return None
        args["learning_rate"] = {"name": SCHEDULES.canonical(sname), **schedule.get_config()}
    built = build_checked(OPTIMIZERS, name, args, path, issues)
    if built is None:
        return None
    return {"name": OPTIMIZERS.canonical(name), **built.get_config()}


def _default_lr(registry, name):
    import inspect

    if name not in registry:
        return 0.001
    p = inspect.signature(registry.get(name).__init__).parameters.get("learning_rate")
    return p.default if p is not None and isinstance(p.default, (int, float)) else 0.001


def _callbacks(items, issues, base_dir: Path):
    from nntrain.training.callbacks import CALLBACKS, Callback, import_object

    if not isinstance(items, list):
        issues.append(Issue(("callbacks",), f"expected a list of callbacks, got {type_name(items)}"))
        return []
    out = []
    for i, item in enumerate(items):
        path = ("callbacks", i)
        name, args, apath = split_named(item, path, issues, "callback")
        if name is None:
            continue
        if isinstance(name, str) and ":" in name:
            try:
                cls = import_object(name, base_dir)
            except ConfigError as exc:
                issues.append(Issue(apath, str(exc)))
                continue
            if not (isinstance(cls, type) and issubclass(cls, Callback)):
                issues.append(Issue(apath, f"custom callback {name!r} must subclass nntrain.training.callbacks.Callback"))
                continue
            try:
                cls(**args)
            except Exception as exc:  # user code: any failure is a config problem to report
                issues.append(Issue(apath, f"custom callback {name!r} could not be created: {exc}"))
                continue
            out.append({"name": name, **args})
            continue
        extra = {"base_dir": str(base_dir)} if name in CALLBACKS and "base_dir" in signature_schema(
            CALLBACKS.get(name))["properties"] else {}
        built = build_checked(CALLBACKS, name, args, apath, issues, **extra)
        if built is not None:
            defaults = {k: s["default"] for k, s in signature_schema(CALLBACKS.get(name))["properties"].items()
                        if "default" in s and k != "base_dir"}
            out.append({"name": CALLBACKS.canonical(name), **defaults, **args})
    return out


# --- the model section ----------------------------------------------------------------------------------
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


def _model(value, issues):
    from nntrain.engine.layers import LAYERS

    if not isinstance(value, dict):
        issues.append(Issue(("model",), f"expected a mapping with `layers`, got {type_name(value)}"))
        return None
    allowed = ["name", "input_shape", "inputs", "layers", "outputs"]
    for k in value:
        if k not in allowed:
            issues.append(Issue(("model", k), f"unknown key `{k}`{did_you_mean(str(k), allowed)}; valid keys: "
                                              f"{', '.join(allowed)}", key=True))
    layers = value.get("layers")
    if not isinstance(layers, list) or not layers:
        issues.append(Issue(("model", "layers") if "layers" in value else ("model",),
                            "expected `layers:` with a non-empty list of layers"))
        return None
    functional = "inputs" in value
    out_layers = []
    names: list[str] = []
    for i, item in enumerate(layers):
        path = ("model", "layers", i)
        parsed = canonical_layer(item, path, issues)
        if parsed is None:
            continue
        ltype, args, meta, apath = parsed
        if "trainable" in meta and not isinstance(meta["trainable"], bool):
            issues.append(Issue(apath + ("trainable",), f"expected true or false, got {meta['trainable']!r}"))
            continue
        if "name" in meta and (not isinstance(meta["name"], str) or not meta["name"]):
            issues.append(Issue(apath + ("name",), f"expected a layer name, got {meta['name']!r}"))
            continue
        if functional and "inputs" not in meta:
            issues.append(Issue(apath, "in a functional model each layer says what it reads: add `inputs: NAME`"))
        if not functional and "inputs" in meta:
            issues.append(Issue(apath + ("inputs",), "`inputs` wires a functional model; declare `model.inputs` "
                                                     "too, or drop it for a Sequential list"))
        layer = build_checked(LAYERS, ltype, args, apath, issues, name=meta.get("name"),
                              trainable=meta.get("trainable", True))
        if layer is None:
            continue
        full = {k: v for k, v in layer.get_config().items() if k not in ("name", "trainable")}
        entry = {"type": LAYERS.canonical(ltype), **meta, **full}
        if "inputs" in meta:
            entry["inputs"] = [meta["inputs"]] if isinstance(meta["inputs"], str) else list(meta["inputs"])
        if "name" in meta:
            if meta["name"] in names:
                issues.append(Issue(apath + ("name",), f"two layers are named `{meta['name']}`"))
            names.append(meta["name"])
        out_layers.append(entry)
    out = {k: v for k, v in value.items() if k in ("name", "input_shape")}
    out["layers"] = out_layers
    if functional:
        inputs, sub = validate(value["inputs"], {"type": "object"}, ("model", "inputs"))
        issues += sub
        out["inputs"] = inputs
        outputs = value.get("outputs")
        if outputs is None:
            issues.append(Issue(("model",), "a functional model needs `outputs:` naming its output layer(s)"))
        else:
            out["outputs"] = [outputs] if isinstance(outputs, str) else list(outputs)
    elif "outputs" in value:
        issues.append(Issue(("model", "outputs"), "`outputs` belongs to a functional model (with `model.inputs`)",
                            key=True))
    if "input_shape" in value:
        _, sub = validate(value["input_shape"], {"type": "array", "items": {"type": ["integer", "null"]}},
                          ("model", "input_shape"))
        issues += sub
    return out
