"""The config format as JSON Schema, generated from the registries (layers, losses, metrics, optimizers,
schedules, callbacks) and the data section's schema, so validation and `nntrain schema` never disagree."""

from __future__ import annotations

import functools
import inspect
import json

from nntrain.config.data_schema import DATA_SCHEMA
from nntrain.registry import Registry

FILE_KEYS = ("filename", "log_dir", "filepath")  # callback arguments naming a file, relative to the run folder
OUTSIDE = "outside_run_folder"  # a callback's explicit consent to write a file outside the run folder

_ANNOTATION_TYPES = {"int": "integer", "float": "number", "bool": "boolean", "str": "string", "None": "null",
                     "dict": "object", "list": "array", "tuple": "array"}


def annotation_schema(annotation) -> dict:
    """`int | None` -> {"type": ["integer", "null"]}; anything not plain -> {} (no constraint)."""
    if annotation is inspect.Parameter.empty:
        return {}
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    types = []
    for token in (t.strip() for t in text.split("|")):
        base = token.split("[")[0]
        if base not in _ANNOTATION_TYPES:
            return {}
        types.append(_ANNOTATION_TYPES[base])
    types = list(dict.fromkeys(types))
    return {"type": types[0] if len(types) == 1 else types}


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False


@functools.cache
def _parameters(cls) -> tuple:
    # inspect.signature is slow and asked for every entry of every config checked; a signature never changes
    return tuple(inspect.signature(cls.__init__).parameters.values())[1:]


def signature_schema(cls, skip: tuple = ()) -> dict:
    """Schema of a class's constructor arguments: types from annotations, defaults, required ones."""
    props, required = {}, []
    for p in _parameters(cls):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in skip:
            continue
        s = annotation_schema(p.annotation)
        if p.default is inspect.Parameter.empty:
            required.append(p.name)
        elif _jsonable(p.default):
            s = {**s, "default": p.default}
        props[p.name] = s
    schema = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        schema["required"] = required
    return schema


def named_forms(registry: Registry, extra: dict | None = None, skip: tuple = ()) -> list[dict]:
    """For each registered class, the two ways a config writes it, for editors' autocompletion:
    {"name": <name or alias>, args...} and {<name or alias>: {args...}}."""
    forms = []
    for name in registry.names():
        cls = registry.get(name)
        spellings = [n for n in registry.names(aliases=True) if registry.get(n) is cls]
        s = signature_schema(cls, skip)
        props = {"name": {"enum": spellings}, **(extra or {}), **s["properties"]}
        forms.append({"type": "object", "additionalProperties": False, "properties": props, "required": ["name"]})
        args = {**s, "properties": {**(extra or {}), **s["properties"]}, "required": s.get("required", [])}
        if not args["required"]:
            del args["required"]
        forms.append({"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
                      "patternProperties": {"^(" + "|".join(spellings) + ")$": {"anyOf": [args, {"type": "null"}]}}})
    return forms


CUSTOM_CALLBACK = [
    {"type": "object", "required": ["name"], "description": "custom: {name: module.path:ClassName, ...args}",
     "properties": {"name": {"type": "string", "pattern": "^[\\w.]+:\\w+$"}}},
    {"type": "object", "minProperties": 1, "maxProperties": 1, "description": "custom: {module.path:ClassName: {args}}",
     "patternProperties": {"^[\\w.]+:\\w+$": {"type": ["object", "null"]}}, "additionalProperties": False},
]


def _optional(forms: list[dict], key: str) -> list[dict]:
    """The same forms with `key` no longer required (the config fills it in, e.g. a schedule's initial rate)."""
    for form in forms:
        for target in [form] + [s.get("anyOf", [{}])[0] for s in form.get("patternProperties", {}).values()]:
            if key in target.get("required", []):
                target["required"] = [k for k in target["required"] if k != key]
    return forms


def _writing_outside(forms: list[dict]) -> list[dict]:
    """Callback forms with a file path argument also take `outside_run_folder` (config/resolve.py's rule)."""
    for form in forms:
        for target in [form] + [s.get("anyOf", [{}])[0] for s in form.get("patternProperties", {}).values()]:
            if any(k in target.get("properties", {}) for k in FILE_KEYS):
                target["properties"][OUTSIDE] = {"type": "boolean", "default": False, "description":
                                                 "allow a file path outside the run folder"}
    return forms


def _registries():
    from nntrain.engine.layers import LAYERS
    from nntrain.engine.losses import LOSSES
    from nntrain.engine.metrics import METRICS
    from nntrain.engine.optimizers import OPTIMIZERS
    from nntrain.engine.schedules import SCHEDULES
    from nntrain.training.callbacks import CALLBACKS

    return LAYERS, LOSSES, METRICS, OPTIMIZERS, SCHEDULES, CALLBACKS


TRAINING_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "description": "How to train.",
    "properties": {
        "epochs": {"type": "integer", "minimum": 1, "default": 1, "description": "Epochs to train (Keras default 1)."},
        "batch_size": {"anyOf": [{"type": "integer", "minimum": 1}, {"const": "full"}], "default": 32,
                       "description": "Samples per step; 1 is pure SGD, `full` the whole set (batch gradient descent)."},
        "shuffle": {"type": "boolean", "default": True, "description": "Reshuffle training rows every epoch."},
        "validation_split": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.0,
                             "description": "Fraction of the training rows held out for validation."},
        "validation_shuffle": {"type": "boolean", "default": True,
                               "description": "Pick the validation rows at random (true) or take the last ones as "
                                              "Keras does (false)."},
        "stratify": {"type": "boolean", "default": False,
                     "description": "Keep class proportions in the validation split."},
        "validation_seed": {"type": ["integer", "null"], "default": None,
                            "description": "Seed of the validation split (default: the run's seed)."},
        "class_weight": {"anyOf": [{"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
                                   {"const": "balanced"}, {"type": "null"}], "default": None,
                         "description": "{class index: weight}, or `balanced` (n / (classes * count))."},
        "dtype": {"enum": ["float32", "float64"], "default": "float32"},
    },
}


SHAPE = {"type": "array", "items": {"type": ["integer", "null"]}}
NAMES = {"anyOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {"type": "string"}}]}
MODEL_INPUTS = {"type": "object", "additionalProperties": {"anyOf": [SHAPE, {"type": "null"}, {
    "type": "object", "additionalProperties": False,
    "properties": {"shape": SHAPE, "sparse": {"type": "boolean"},
                   "dtype": {"enum": ["float32", "float64", "int32", "int64"]}}}]},
                "description": "Functional model inputs: name -> shape (null: from the data)."}


def _layer_forms(LAYERS: Registry) -> list[dict]:
    """Each layer written as {type: Dense, ...args} or {Dense: {...args}}."""
    layer_extra = {"type": {"enum": LAYERS.names()}, "inputs": NAMES, "name": {"type": "string"},
                   "trainable": {"type": "boolean", "default": True}}
    layer_forms = []
    for name in LAYERS.names():
        args = signature_schema(LAYERS.get(name), skip=("name", "trainable"))
        layer_forms.append({"type": "object", "additionalProperties": False, "required": ["type"],
                            "properties": {**layer_extra, "type": {"const": name}, **args["properties"]}})
        layer_forms.append({"type": "object", "additionalProperties": False, "required": [name],
                            "properties": {name: {**args, "properties": {**args["properties"],
                                                                          "name": layer_extra["name"],
                                                                          "inputs": layer_extra["inputs"],
                                                                          "trainable": layer_extra["trainable"]}}}})
    layer_forms.append({"type": "object", "additionalProperties": False, "required": ["reuse", "inputs"],
                        "description": "A shared layer's further use: the layer named by `reuse` (its weights too) "
                                       "applied to `inputs`; its output is named `name` (default LAYER_use2, ...).",
                        "properties": {"reuse": {"type": "string"}, "inputs": NAMES, "name": {"type": "string"}}})
    return layer_forms


def _repeat_form(layer_forms: list[dict]) -> dict:
    """`- repeat: {times: 2, layers: [...]}`: a block of layers stacked `times` times (config/repeat.py)."""
    return {"type": "object", "additionalProperties": False, "required": ["repeat"], "properties": {"repeat": {
        "type": "object", "additionalProperties": False, "required": ["times", "layers"],
        "description": "The block `layers` stacked `times` times (0: left out); searchable as repeat.times.",
        "properties": {"times": {"type": "integer", "minimum": 0},
                       "layers": {"type": "array", "minItems": 1, "items": {"anyOf": layer_forms}}}}}}


_RANGE = {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}}
_DISTRIBUTION = {"anyOf": [
    {"type": "object", "additionalProperties": False, "required": ["loguniform"], "properties": {"loguniform": _RANGE}},
    {"type": "object", "additionalProperties": False, "required": ["uniform"],
     "properties": {"uniform": _RANGE, "step": {"type": "number", "exclusiveMinimum": 0}}},
    {"type": "object", "additionalProperties": False, "required": ["int"],
     "properties": {"int": {**_RANGE, "items": {"type": "integer"}}, "log": {"type": "boolean"},
                    "step": {"type": "integer", "minimum": 1}}},
    {"type": "object", "additionalProperties": False, "required": ["choice"],
     "properties": {"choice": {"type": "array", "minItems": 1}}}]}
_NAMED = {"anyOf": [{"type": "string"}, {"type": "object", "required": ["name"],
                                         "additionalProperties": {"type": "integer", "minimum": 1},
                                         "properties": {"name": {"type": "string"}}}]}
SEARCH_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["params"],
    "description": "`nntrain tune`'s search space (`nntrain fit` ignores it).",
    "properties": {
        "objective": {"type": "string", "default": "val_loss", "description": "Any logged value."},
        "sampler": {**_NAMED, "description": "tpe (default), random or grid."},
        "pruner": {**_NAMED, "description": "none (default), median, successive_halving or hyperband."},
        "trials": {"type": "integer", "minimum": 1},
        "params": {"type": "object", "minProperties": 1, "additionalProperties": _DISTRIBUTION,
                   "description": "Key paths as --set writes them -> a distribution."},
    },
}


def config_schema() -> dict:
    """The whole config format as JSON Schema (draft 2020-12), for editors and `nntrain schema`."""
    LAYERS, LOSSES, METRICS, OPTIMIZERS, SCHEDULES, CALLBACKS = _registries()
    layer_forms = _layer_forms(LAYERS)
    loss_one = {"anyOf": [{"enum": LOSSES.names(aliases=True)}, *named_forms(LOSSES)]}
    metric_one = {"anyOf": [{"enum": METRICS.names(aliases=True)}, *named_forms(METRICS)]}
    schedule = {"anyOf": [{"enum": SCHEDULES.names(aliases=True)},
                          *_optional(named_forms(SCHEDULES), "initial_learning_rate")]}
    optimizer_forms = named_forms(OPTIMIZERS, extra={"schedule": schedule})
    callback_forms = _writing_outside(named_forms(CALLBACKS, skip=("base_dir",)))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://nntrain.dev/schema/config.json",
        "title": "nntrain config",
        "type": "object",
        "additionalProperties": False,
        "required": ["data", "model", "loss"],
        "properties": {
            "name": {"type": "string", "description": "Run name: the folder under runs/ (default: file name)."},
            "seed": {"type": "integer", "minimum": 0,
                     "description": "Makes the run bit-for-bit reproducible (default: random, recorded)."},
            "data": DATA_SCHEMA,
            "model": {
                "type": "object", "additionalProperties": False, "required": ["layers"],
                "properties": {
                    "name": {"type": "string"},
                    "input_shape": {**SHAPE, "description": "Sequential input shape (default: from the data)."},
                    "inputs": MODEL_INPUTS,
                    "layers": {"type": "array", "minItems": 1, "items": {"anyOf": [*layer_forms,
                                                                                    _repeat_form(layer_forms)]}},
                    "outputs": NAMES,
                },
            },
            "loss": {"anyOf": [loss_one, {"type": "object", "additionalProperties": loss_one}]},
            "loss_weights": {"anyOf": [{"type": "object", "additionalProperties": {"type": "number"}},
                                       {"type": "array", "items": {"type": "number"}}]},
            "metrics": {"anyOf": [{"type": "array", "items": metric_one},
                                  {"type": "object", "additionalProperties": {"type": "array", "items": metric_one}}]},
            "optimizer": {"anyOf": [{"enum": OPTIMIZERS.names(aliases=True)}, *optimizer_forms]},
            "training": TRAINING_SCHEMA,
            "callbacks": {"type": "array", "items": {"anyOf": [{"enum": CALLBACKS.names(aliases=True)}, *callback_forms,
                                                               *CUSTOM_CALLBACK]}},
            "search": SEARCH_SCHEMA,
        },
    }
