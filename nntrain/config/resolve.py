"""Validate and build in one pass: each registry-backed config entry (a layer, the loss, a metric, the optimizer and
its schedule, a callback) becomes a Recipe, a constructor call checked against the class's signature.

Checking builds the entry once, so the class's own checks (Dense units > 0, a callback's user code) report here,
before any data is touched, and that object is the one the first model gets. Every problem is collected as an Issue
carrying its key path; an error raised while building carries the same path as data (`NNTrainError.path`).
"""

from __future__ import annotations

import copy
import inspect
import os
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any, Callable

from nntrain.config.schema import FILE_KEYS, OUTSIDE, signature_schema
from nntrain.config.validator import Issue, type_name, validate
from nntrain.errors import ConfigError, NNTrainError
from nntrain.registry import Registry, did_you_mean


@dataclass
class Recipe:
    """A checked constructor call: `factory(**args)` builds the entry written at `path` of the config.

    The checking pass keeps the object it built in `checked`; the first `make()` hands it over and every later
    one builds afresh, so no two models (a fit's, each kfold fold's, the refit's) share a layer, an optimizer
    slot or a callback's state.
    """

    what: str  # the entry's name as written, for messages
    factory: Callable[..., Any]
    args: dict  # values are config data, or Recipes built first (an optimizer's schedule)
    path: tuple
    checked: Any = field(default=None, repr=False)

    def make(self, **changes) -> Any:
        """The entry's object: the one checking built on the first call, a new one after (and whenever `changes`
        replace arguments, e.g. a callback's file moved into the run folder)."""
        if changes:
            return replace(self, args={**self.args, **changes}, checked=None).build()
        built, self.checked = self.checked, None
        return built if built is not None else self.build()

    def build(self) -> Any:
        """A new object. Raises ConfigError (or the class's own NNTrainError) carrying `path`."""
        try:
            return self._construct(self.args)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.what}: {exc}", self.path) from None

    def check(self, issues: list[Issue]) -> bool:
        """Build the entry once, for the first `make()`; a ConfigError becomes an Issue at its path."""
        try:
            self.checked = self.build()
        except ConfigError as exc:
            issues.append(Issue(exc.path, str(exc)))
            return False
        return True

    def _construct(self, args: dict) -> Any:
        values = {k: v.make() if isinstance(v, Recipe) else copy.deepcopy(v) for k, v in args.items()}
        try:
            return self.factory(**values)
        except NNTrainError as exc:
            exc.path = exc.path or self.path
            raise


@dataclass
class Recipes:
    """The buildable entries of a config, in config order (metrics stay specs: the engine picks each one's class
    from its output's loss and width)."""

    layers: list[Recipe] = field(default_factory=list)
    loss: Recipe | dict[str, Recipe] | None = None
    optimizer: Recipe | None = None
    callbacks: list[Recipe] = field(default_factory=list)


def entry(registry: Registry, name, args, path: tuple, issues: list[Issue], extra: dict | None = None,
          factory: Callable[..., Any] | None = None) -> Recipe | None:
    """The Recipe of a registered `name` with `args`, checked against the constructor's signature and built once;
    None, with the problems added to `issues`, when it does not fit.

    extra: arguments passed through unchecked (a layer's name and trainable, a callback's base_dir).
    factory: what builds it (default: the registered class).
    """
    if not isinstance(name, str) or name not in registry:
        issues.append(Issue(path, f"unknown {registry.kind} {name!r}{did_you_mean(str(name), registry.names())}; "
                                  f"valid: {', '.join(registry.names())}"))
        return None
    cls = registry.get(name)
    schema = signature_schema(cls, skip=tuple(extra or ()))
    if not isinstance(args, dict):
        issues.append(Issue(path, f"arguments of {name} must be a mapping, got {type_name(args)} {args!r}"))
        return None
    recipe = Recipe(name, factory or cls, {**args, **(extra or {})}, path)
    _, sub = validate(args, {**schema, "required": []}, path)
    if sub:
        issues += sub
        _judge_the_rest(recipe, {i.path[len(path)] for i in sub if len(i.path) > len(path)}, issues)
        return None
    missing = [k for k in schema.get("required", []) if k not in args]
    if missing:
        issues.append(Issue(path, f"{name} needs `{missing[0]}`" + (f" (and {', '.join(missing[1:])})"
                                                                    if missing[1:] else "")))
        return None
    return recipe if recipe.check(issues) else None


def _judge_the_rest(recipe: Recipe, bad: set, issues: list[Issue]) -> None:
    """Let the constructor judge the well-formed arguments of an entry that has bad ones, so all problems show at
    once (a complaint about an argument left out is no news)."""
    try:
        recipe._construct({k: v for k, v in recipe.args.items() if k not in bad})
    except ConfigError as exc:
        issues.append(Issue(recipe.path, str(exc)))
    except (TypeError, ValueError):
        pass


def split_named(value, path: tuple, issues: list[Issue], what: str):
    """`name`, {"name": name, **args} or {name: {args}} -> (name, args, args_path)."""
    a = "an" if what[0] in "aeiou" else "a"
    if isinstance(value, str):
        return value, {}, path
    if isinstance(value, dict):
        if "name" in value:
            if not isinstance(value["name"], str):
                got = "null" if value["name"] is None else f"{type_name(value['name'])} {value['name']!r}"
                issues.append(Issue(path + ("name",), f"expected {a} {what} name, got {got}"))
                return None, None, path
            args = {k: v for k, v in value.items() if k != "name"}
            return value["name"], args, path
        if len(value) == 1:
            (name, args), = value.items()
            if isinstance(args, dict) or args is None:
                return name, (args if args is not None else {}), path + (name,)
            issues.append(Issue(path, f"`{name}: {args!r}` is not {a} {what} (is `name:` missing?); write "
                                      f"{{name: NAME, {name}: ...}} or {{NAME: {{arguments}}}}"))
            return None, None, path
    issues.append(Issue(path, f"expected {a} {what} name or {{name: ..., arguments}}, got {type_name(value)} "
                              f"{value!r}"))
    return None, None, path


# --- loss, metrics, optimizer ---------------------------------------------------------------------------
def resolve_loss(value, issues: list[Issue]) -> tuple[Any, Recipe | dict[str, Recipe] | None]:
    """One loss, or {output: loss} -> (resolved entry, its Recipe or {output: Recipe})."""
    from nntrain.engine.losses import LOSSES

    def one(v, path):
        name, args, apath = split_named(v, path, issues, "loss")
        recipe = entry(LOSSES, name, args, apath, issues) if name is not None else None
        resolved = None if recipe is None else {"name": LOSSES.canonical(name), **recipe.checked.get_config()}
        return resolved, recipe

    if isinstance(value, dict) and "name" not in value and not (len(value) == 1 and next(iter(value)) in LOSSES):
        both = {k: one(v, ("loss", k)) for k, v in value.items()}
        return {k: r for k, (r, _) in both.items()}, {k: recipe for k, (_, recipe) in both.items()}
    return one(value, ("loss",))


def resolve_metrics(value, issues: list[Issue]):
    """A list of metrics, or {output: list}, checked; the resolved entries keep each metric's own spelling."""
    if isinstance(value, dict):
        return {k: _metric_list(v, ("metrics", k), issues) for k, v in value.items()}
    return _metric_list(value, ("metrics",), issues)


def _metric_list(items, path: tuple, issues: list[Issue]) -> list:
    from nntrain.engine.metrics import METRICS

    if not isinstance(items, list):
        issues.append(Issue(path, f"expected a list of metric names, got {type_name(items)} {items!r}"))
        return []
    out, seen = [], {}
    for i, item in enumerate(items):
        name, args, apath = split_named(item, path + (i,), issues, "metric")
        if name is None:
            continue
        if name in seen:  # the history, checkpoints and monitors know a metric by its name: one value per name
            issues.append(Issue(path + (i,), f"metric {name!r} is already measured by {'.'.join(map(str, seen[name]))}"
                                             f"; a run logs one value per metric name, so keep one of them"))
            continue
        seen[name] = path + (i,)
        # built the way compile builds it, but not kept: there the output's loss and width choose its class
        if entry(METRICS, name, args, apath, issues, factory=_metric_factory(name)):
            out.append(item if isinstance(item, str) else {"name": name, **args})
    return out


def _metric_factory(name: str) -> Callable[..., Any]:
    from nntrain.engine.metrics import resolve_metric

    return lambda **args: resolve_metric({"name": name, **args})


def resolve_optimizer(value, issues: list[Issue]) -> tuple[dict | None, Recipe | None]:
    """The optimizer (with its learning-rate schedule) -> (resolved entry, Recipe)."""
    from nntrain.engine.optimizers import OPTIMIZERS
    from nntrain.engine.schedules import SCHEDULES

    name, args, path = split_named(value, ("optimizer",), issues, "optimizer")
    if name is None:
        return None, None
    args = dict(args)
    if "schedule" in args:
        sname, sargs, spath = split_named(args.pop("schedule"), path + ("schedule",), issues, "schedule")
        if sname is None:
            return None, None
        sargs = dict(sargs)
        if sname in SCHEDULES and "initial_learning_rate" in signature_schema(SCHEDULES.get(sname))["properties"]:
            sargs.setdefault("initial_learning_rate", args.get("learning_rate", _default_lr(OPTIMIZERS, name)))
        schedule = entry(SCHEDULES, sname, sargs, spath, issues)
        if schedule is None:
            return None, None
        args["learning_rate"] = schedule
    recipe = entry(OPTIMIZERS, name, args, path, issues)
    if recipe is None:
        return None, None
    return {"name": OPTIMIZERS.canonical(name), **recipe.checked.get_config()}, recipe


def _default_lr(registry: Registry, name) -> float:
    if name not in registry:
        return 0.001
    p = inspect.signature(registry.get(name).__init__).parameters.get("learning_rate")
    return p.default if p is not None and isinstance(p.default, (int, float)) else 0.001


# --- callbacks ------------------------------------------------------------------------------------------
def resolve_callbacks(items, issues: list[Issue], base_dir: Path) -> tuple[list, list[Recipe]]:
    """The callbacks list -> (resolved entries with defaults filled, Recipes); `module:Class` names a custom one,
    imported from `base_dir` or the Python path."""
    from nntrain.training.callbacks import CALLBACKS

    if not isinstance(items, list):
        issues.append(Issue(("callbacks",), f"expected a list of callbacks, got {type_name(items)}"))
        return [], []
    resolved, recipes = [], []
    for i, item in enumerate(items):
        name, args, apath = split_named(item, ("callbacks", i), issues, "callback")
        if name is None:
            continue
        if isinstance(name, str) and ":" in name:
            recipe = _custom_callback(name, args, apath, issues, base_dir)
            if recipe is not None:
                resolved.append({"name": name, **args})
                recipes.append(recipe)
            continue
        props = signature_schema(CALLBACKS.get(name))["properties"] if name in CALLBACKS else {}
        defaults = {k: s["default"] for k, s in props.items() if "default" in s and k != "base_dir"}
        extra = {"base_dir": str(base_dir)} if "base_dir" in props else {}
        args, outside = _file_paths(args, apath, issues)
        recipe = entry(CALLBACKS, name, args, apath, issues, extra=extra)
        if recipe is not None and outside is not None:
            resolved.append({"name": CALLBACKS.canonical(name), **defaults, **args, **outside})
            recipes.append(recipe)
    return resolved, recipes


def _file_paths(args, path: tuple, issues: list[Issue]) -> tuple[Any, dict | None]:
    """(the arguments without OUTSIDE, {OUTSIDE: True} or {}) of a built-in callback; None, with an Issue, when a
    file path leaves the run folder without the callback saying so. A path that is absolute or climbs out with `..`
    is allowed only under `outside_run_folder: true`, written in the callback's own entry, where it shows."""
    if not isinstance(args, dict):
        return args, {}
    args = dict(args)
    outside = args.pop(OUTSIDE, False)
    if not isinstance(outside, bool):
        issues.append(Issue(path + (OUTSIDE,), f"expected true or false, got {type_name(outside)} {outside!r}"))
        return args, None
    if outside and not any(k in args for k in FILE_KEYS):
        issues.append(Issue(path + (OUTSIDE,), f"`{OUTSIDE}` belongs to a callback given a file path "
                                               f"({', '.join(FILE_KEYS)})", key=True))
        return args, None
    ok = True
    for key in FILE_KEYS:
        value = args.get(key)
        if not isinstance(value, str):
            continue  # the signature check reports a wrong type
        if not value or "\0" in value:
            issues.append(Issue(path + (key,), f"expected a file path, got {value!r}"))
            ok = False
        elif not outside and leaves_folder(value):
            issues.append(Issue(path + (key,), f"{value!r} is outside the run folder: callback files go inside it, "
                                               f"so give a relative path (e.g. {PurePath(value).name!r}), or write "
                                               f"`{OUTSIDE}: true` in this callback to write there on purpose"))
            ok = False
    if not ok:
        return args, None
    return args, {OUTSIDE: True} if outside else {}


def leaves_folder(value: str) -> bool:
    """Whether a relative-to-the-run-folder path ends up outside it: absolute, or climbing out with `..`."""
    normal = os.path.normpath(value)
    return PurePath(value).is_absolute() or PurePath(value).drive != "" or normal == ".." or \
        normal.startswith(".." + os.sep)


def _custom_callback(name: str, args, path: tuple, issues: list[Issue], base_dir: Path) -> Recipe | None:
    from nntrain.training.callbacks import Callback, import_object

    try:
        cls = import_object(name, base_dir)
    except ConfigError as exc:
        issues.append(Issue(path, str(exc)))
        return None
    if not (isinstance(cls, type) and issubclass(cls, Callback)):
        issues.append(Issue(path, f"custom callback {name!r} must subclass nntrain.training.callbacks.Callback"))
        return None
    if not isinstance(args, dict):
        issues.append(Issue(path, f"arguments of {name} must be a mapping, got {type_name(args)} {args!r}"))
        return None

    def create(**kwargs):
        try:
            return cls(**kwargs)
        except Exception as exc:  # user code: any failure is a config problem to report
            raise ConfigError(f"custom callback {name!r} could not be created: {exc}") from None

    recipe = Recipe(name, create, dict(args), path)
    return recipe if recipe.check(issues) else None
