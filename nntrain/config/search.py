"""`nntrain tune`'s search space: the config's `search:` section, or a file of its own (`--space FILE`).

    search:
      objective: val_loss          # any logged value; its direction is the metric's own (engine/monitor.py)
      sampler: tpe                 # tpe (default) | random | grid, or {name: tpe, n_startup_trials: 5}
      pruner: median               # none (default) | median | successive_halving | hyperband, or {name: ..., args}
      trials: 20
      params:                      # the dotted key paths of --set
        optimizer.learning_rate: {loguniform: [3.0e-4, 3.0e-2]}
        model.layers.0.repeat.times: {int: [0, 3]}
        model.layers.0.repeat.layers.0.Dense.units: {int: [1, 100]}
        training.batch_size: {choice: [16, 32, 64]}

Distributions: loguniform [low, high], uniform [low, high] (with `step`), int [low, high] (with `log` or `step`),
choice [values]. Everything is checked before any trial, each problem at its FILE:LINE:COL: the shape of every
entry, and every parameter against the config itself, by checking the config with the range's ends (every value of
a choice) set as --set would set them; so an unknown key path, or a float range for `units`, is refused here.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from nntrain.config.loader import Positions, load_yaml, parse_override
from nntrain.config.validator import Issue, type_name
from nntrain.errors import ConfigError
from nntrain.registry import did_you_mean

KEYS = ["objective", "sampler", "pruner", "trials", "params"]
DISTRIBUTIONS = ["loguniform", "uniform", "int", "choice"]
OPTIONS = {"loguniform": [], "uniform": ["step"], "int": ["log", "step"], "choice": []}
SAMPLERS = {"tpe": {"n_startup_trials": int}, "random": {}, "grid": {}}
PRUNERS = {"none": {}, "median": {"n_startup_trials": int, "n_warmup_steps": int},
           "successive_halving": {"min_resource": int, "reduction_factor": int},
           "hyperband": {"min_resource": int, "reduction_factor": int}}
DEFAULT_TRIALS = 20


@dataclass
class Param:
    """One searched value: `path` as --set writes it, and its distribution."""

    path: str
    kind: str  # loguniform | uniform | int | choice
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    log: bool = False
    choices: list = field(default_factory=list)

    def ends(self) -> list:
        """The values checked against the config: both ends of a range, every choice."""
        if self.kind == "choice":
            return list(self.choices)
        return [self.low, self.high] if self.kind == "int" else [float(self.low), float(self.high)]

    def grid(self) -> list | None:
        """Every value a grid search tries, or None for a continuous range (no step)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return None if self.log else list(range(self.low, self.high + 1, self.step or 1))
        if self.step is None:
            return None
        count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return [self.low + i * self.step for i in range(count)]


@dataclass
class SearchSpace:
    """A checked search space, with where it was written (for messages)."""

    params: list[Param]
    objective: str = "val_loss"
    sampler: dict = field(default_factory=lambda: {"name": "tpe"})
    pruner: dict = field(default_factory=lambda: {"name": "none"})
    trials: int | None = None
    file: str = ""

    def as_dict(self) -> dict:
        """The space as written back (tune.json), loadable again with `from_dict`."""
        return {"objective": self.objective, "sampler": self.sampler, "pruner": self.pruner, "trials": self.trials,
                "params": {p.path: _written(p) for p in self.params}, "file": self.file}

    @classmethod
    def from_dict(cls, d: dict) -> "SearchSpace":
        issues: list[Issue] = []
        params = [_param(path, spec, ("params", path), issues) for path, spec in d["params"].items()]
        return cls([p for p in params if p], d["objective"], d["sampler"], d["pruner"], d["trials"], d["file"])


def setting(param: Param, value) -> str:
    """The --set text that gives `param` the value `value` (JSON is YAML: a string stays a string)."""
    return f"{param.path}={json.dumps(value)}"


def load_space(config_path: Path, overrides=(), space_file: Path | None = None,
               base_dir: Path | None = None) -> SearchSpace:
    """The search space of a config (its `search:` section) or of `space_file`, checked against the config.

    Raises:
        ConfigError: every problem, each with FILE:LINE:COL and its key path under `search`.
    """
    from nntrain.config import format_issues, read_config

    tree, pos = read_config(Path(config_path))
    if space_file is not None:
        if not Path(space_file).is_file():
            raise ConfigError(f"--space {space_file}: no such file; give a YAML file with `params:`")
        raw, where = load_yaml(Path(space_file))
        prefix = ("search",) if isinstance(raw, dict) and set(raw) == {"search"} else ()
        section = raw.get("search") if prefix else raw
        if section is None or not isinstance(section, dict):
            raise ConfigError(f"{space_file}:1:1  a search space is a mapping with `params:` (and optionally "
                              f"objective, sampler, pruner, trials), got {type_name(section)}")
        spaced = Positions(where.file)
        spaced.map = {("search",) + p[len(prefix):]: v for p, v in where.map.items() if p[:len(prefix)] == prefix}
        spaced.key_map = {("search",) + p[len(prefix):]: v for p, v in where.key_map.items()
                          if p[:len(prefix)] == prefix}
        where = spaced
    else:
        section, where = tree.get("search"), pos
        if section is None:
            raise ConfigError(f"{config_path}:1:1  no search space: add a `search:` section with `params:` (see "
                              f"`nntrain tune --help`), or give one with --space FILE")
    space, issues = _section(section)
    if not issues:
        issues = _against_config(space, tree, pos, overrides, base_dir or Path(config_path).parent)
    if issues:
        error = ConfigError(format_issues(issues, where), issues[0].path if len(issues) == 1 else ())
        error.located = True
        raise error
    space.file = where.file
    return space


def _section(section) -> tuple[SearchSpace, list[Issue]]:
    """The shape of a `search:` mapping: its settings and every parameter's distribution."""
    issues: list[Issue] = []
    space = SearchSpace([])
    if not isinstance(section, dict):
        return space, [Issue(("search",), f"expected a mapping with `params:`, got {type_name(section)}")]
    for key in section:
        if key not in KEYS:
            issues.append(Issue(("search", key), f"unknown key `{key}`{did_you_mean(str(key), KEYS)}; valid keys: "
                                                 f"{', '.join(KEYS)}", key=True))
    objective = section.get("objective", "val_loss")
    if not isinstance(objective, str) or not objective:
        issues.append(Issue(("search", "objective"), f"expected the name of a logged value (val_loss, "
                                                     f"val_accuracy, ...), got {type_name(objective)} {objective!r}"))
    space.objective = objective
    space.sampler = _named(section.get("sampler", "tpe"), SAMPLERS, ("search", "sampler"), issues)
    space.pruner = _named(section.get("pruner", "none"), PRUNERS, ("search", "pruner"), issues)
    trials = section.get("trials")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        issues.append(Issue(("search", "trials"), f"expected a positive number of trials, got {trials!r}"))
    space.trials = trials
    params = section.get("params")
    if not isinstance(params, dict) or not params:
        issues.append(Issue(("search", "params") if "params" in section else ("search",),
                            "expected `params:` mapping key paths (as --set writes them) to distributions, e.g. "
                            "`optimizer.learning_rate: {loguniform: [3.0e-4, 3.0e-2]}`"))
        return space, issues
    for path, spec in params.items():
        param = _param(path, spec, ("search", "params", path), issues)
        if param is not None:
            space.params.append(param)
    if space.sampler.get("name") == "grid":
        for p in space.params:
            if p.grid() is None:
                issues.append(Issue(("search", "params", p.path), "a grid search needs a finite set of values: a "
                                                                  "choice, an int range, or a range with `step`"))
    return space, issues


def _named(value, table: dict, path: tuple, issues: list[Issue]) -> dict:
    """`median` or `{name: median, n_warmup_steps: 2}` -> {"name": ..., args}; arguments from `table` only."""
    spec = {"name": value} if isinstance(value, str) else dict(value) if isinstance(value, dict) else None
    names = list(table)
    if spec is None or spec.get("name") not in table:
        got = spec.get("name") if spec else value
        issues.append(Issue(path + (("name",) if isinstance(value, dict) else ()),
                            f"expected one of {', '.join(names)}{did_you_mean(str(got), names)}, got {got!r}"))
        return {"name": names[0]}
    allowed = table[spec["name"]]
    for k, v in spec.items():
        if k == "name":
            continue
        if k not in allowed:
            issues.append(Issue(path + (k,), f"{spec['name']} takes no `{k}`{did_you_mean(str(k), list(allowed))}"
                                             f"; its settings: {', '.join(allowed) or 'none'}", key=True))
        elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
            issues.append(Issue(path + (k,), f"expected a positive whole number, got {type_name(v)} {v!r}"))
    return spec


def _number(v, whole: bool) -> bool:
    return not isinstance(v, bool) and isinstance(v, int if whole else (int, float)) and math.isfinite(v)


def _param(path, spec, where: tuple, issues: list[Issue]) -> Param | None:
    """One `key.path: {distribution: ...}` entry -> Param, or None with its Issues."""
    if not isinstance(path, str) or not path or "" in path.split(".") or "=" in path:
        issues.append(Issue(where, f"expected a key path like optimizer.learning_rate, got {path!r}", key=True))
        return None
    kinds = [k for k in spec if k in DISTRIBUTIONS] if isinstance(spec, dict) else []
    if len(kinds) != 1:
        guess = did_you_mean(str(next(iter(spec), "")), DISTRIBUTIONS) if isinstance(spec, dict) else ""
        issues.append(Issue(where, f"expected one distribution ({', '.join(DISTRIBUTIONS)}) like "
                                   f"`{{loguniform: [3.0e-4, 3.0e-2]}}`{guess}, got {spec!r}"))
        return None
    kind = kinds[0]
    bad = [Issue(where + (k,), f"{kind} takes no `{k}`{did_you_mean(str(k), OPTIONS[kind])}; its options: "
                               f"{', '.join(OPTIONS[kind]) or 'none'}", key=True)
           for k in spec if k != kind and k not in OPTIONS[kind]]
    value = spec[kind]
    if kind == "choice":
        if not isinstance(value, list) or not value:
            bad.append(Issue(where + (kind,), f"expected a non-empty list of values, got {type_name(value)}"))
        elif any(v is not None and not isinstance(v, (bool, int, float, str)) for v in value):
            bad.append(Issue(where + (kind,), "each choice is one value (a number, a string, true/false or null)"))
        elif len({json.dumps(v) for v in value}) < len(value):
            bad.append(Issue(where + (kind,), "a value appears twice in the choice"))
        issues += bad
        return None if bad else Param(path, kind, choices=list(value))
    whole = kind == "int"
    if not isinstance(value, list) or len(value) != 2 or not all(_number(v, whole) for v in value):
        what = "whole numbers" if whole else "numbers"
        issues.append(Issue(where + (kind,), f"expected [low, high], two {what}, got {value!r}"))
        return None
    low, high = value
    if low >= high:
        bad.append(Issue(where + (kind,), f"an empty range: low ({low}) must be below high ({high})"))
    if (kind == "loguniform" or spec.get("log")) and low <= 0:
        bad.append(Issue(where + (kind,), f"a log scale needs low > 0, got {low}"))
    step, log = spec.get("step"), spec.get("log", False)
    if "step" in spec and (not _number(step, whole) or step <= 0):
        bad.append(Issue(where + ("step",), f"expected a positive {'whole ' if whole else ''}number, got {step!r}"))
    if not isinstance(log, bool):
        bad.append(Issue(where + ("log",), f"expected true or false, got {log!r}"))
    elif log and step not in (None, 1):
        bad.append(Issue(where, "`log` and `step` do not combine: give one of them"))
    issues += bad
    return None if bad else Param(path, kind, low, high, step, kind == "loguniform" or log)


def _written(p: Param) -> dict:
    if p.kind == "choice":
        return {"choice": p.choices}
    out = {p.kind: [p.low, p.high]}
    if p.step is not None:
        out["step"] = p.step
    if p.log and p.kind == "int":
        out["log"] = True
    return out


def _against_config(space: SearchSpace, tree: dict, pos: Positions, overrides, base_dir: Path) -> list[Issue]:
    """Every parameter's end values (every choice) set into the config, which is checked each time: a problem is
    reported at the parameter, with what the config says about that value."""
    from nntrain.config import check_tree

    issues = []
    for p in space.params:
        where = ("search", "params", p.path)
        parts, _ = parse_override(f"{p.path}=0")
        for value in p.ends():
            trial = copy.deepcopy({k: v for k, v in tree.items() if k != "search"})
            try:
                _, _, found = check_tree(trial, Positions(pos.file), [*overrides, setting(p, value)], base_dir)
            except ConfigError as exc:  # the path does not fit the config's structure (no item 5 of 3)
                issues.append(Issue(where, str(exc).replace(f"--set {setting(p, value)!r}: ", ""), key=True))
                break
            ours = [i for i in found if _related(i.path, parts)]
            if found and not ours:
                ours = found[:1]  # the config has a problem of its own (or --set has): say it here as well
            if ours:
                said = "; ".join(f"{'.'.join(map(str, i.path))}: {i.message}" for i in ours)
                issues.append(Issue(where, f"{p.path} = {value!r} does not fit the config: {said}", key=True))
                break
    return issues


def _related(issue_path: tuple, parts: list) -> bool:
    """Whether a config problem is about the searched key: on its key path (above or below it), or anywhere in
    the model when the key is in the model (a `repeat:` block's layers move when it is expanded)."""
    if parts[0] == "model" and tuple(issue_path[:1]) == ("model",):
        return True
    n = min(len(issue_path), len(parts))
    return n > 0 and tuple(issue_path[:n]) == tuple(parts[:n])
