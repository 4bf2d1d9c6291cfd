"""Config files: YAML -> one validated, defaults-filled dict, with every mistake reported at once as
`FILE:LINE:COL  key.path: what is wrong (got X, expected Y)` before anything is loaded or trained.

    cfg = load_config("iris.yaml", ["training.epochs=50"])   # loader -> sections (resolve) -> RunConfig
    model = build_model(cfg, data_inputs); compile_model(model, cfg)   # config/build.py
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nntrain.config.loader import Positions, apply_overrides, load_yaml
from nntrain.config.repeat import expand_repeats
from nntrain.config.resolve import Recipes
from nntrain.config.sections import SECTIONS, check_sections
from nntrain.config.validator import Issue, type_name
from nntrain.errors import ConfigError, NNTrainError
from nntrain.runs.folder import name_problem


@dataclass
class RunConfig:
    """A validated config. `resolved` is the whole config with defaults, seed and overrides applied; `recipes`
    build its layers, loss, optimizer and callbacks (config/build.py)."""

    path: Path
    resolved: dict
    positions: Positions
    recipes: Recipes = field(default_factory=Recipes)
    overrides: list[str] = field(default_factory=list)
    base: Path | None = None  # where relative paths point (a resumed run: the original config's folder)

    @property
    def base_dir(self) -> Path:
        return self.base if self.base is not None else self.path.parent

    def __getitem__(self, key):
        return self.resolved[key]

    def locate(self, exc: NNTrainError, path: tuple | None = None) -> NNTrainError:
        """The same error, its message prefixed with the FILE:LINE:COL and key path of the config entry `path`
        (default: the path the error carries); unchanged when already located."""
        if exc.located:
            return exc
        path = tuple(exc.path if path is None else path)
        dotted = ".".join(map(str, path))
        # a message that names its own key first (data's "data.train: ...") keeps the key once
        message = str(exc).removeprefix(f"{dotted}: ") + self.positions.from_set(path)
        located = type(exc)(f"{self.positions.where(path)}  {dotted}: {message}", path, exc.layer)
        located.located = True
        return located


def dump_yaml(tree: dict) -> str:
    """A config tree as YAML the way nntrain writes it (`nntrain check`, a run folder's config.yaml): keys in
    config order, short lists inline, lines up to 100 characters."""
    return yaml.safe_dump(tree, sort_keys=False, default_flow_style=None, width=100)


def format_issues(issues: list[Issue], pos: Positions) -> str:
    lines = []
    for issue in issues:
        where = pos.where(issue.path, key=issue.key)
        dotted = ".".join(str(p) for p in issue.path) or "(top level)"
        lines.append(f"{where}  {dotted}: {issue.message}")
    head = f"{len(issues)} problem{'s' if len(issues) > 1 else ''} in {pos.file}:" if len(issues) > 1 else ""
    return "\n".join(([head] if head else []) + lines)


def read_config(path: Path) -> tuple[dict, Positions]:
    """A config file's tree (a mapping of sections) and where each value is; ConfigError when it is not one."""
    try:
        tree, pos = load_yaml(path)
    except RecursionError:  # hundreds of nested lists or mappings: more than the parser can follow
        raise ConfigError(f"{path}: the YAML is nested too deeply to read; a config needs only a few levels") from None
    if tree is None:
        raise ConfigError(f"{path}:1:1  the config file is empty; it needs at least `data`, `model` and `loss`")
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}:1:1  the config must be a mapping of sections ({', '.join(SECTIONS)}), "
                          f"got a {type_name(tree)}")
    return tree, pos


def check_tree(tree: dict, pos: Positions, overrides, base_dir: Path) -> tuple[dict, Recipes, list[Issue]]:
    """--set, `repeat:` blocks, then every section checked: (resolved tree, recipes, issues). Changes `tree`."""
    apply_overrides(tree, overrides, pos)
    issues = expand_repeats(tree, pos)
    resolved, recipes, more = check_sections(tree, base_dir)
    return resolved, recipes, issues + more


def load_config(path, overrides: list[str] | tuple = (), base_dir: Path | None = None) -> RunConfig:
    """Read, override and validate a config file. Raises ConfigError listing every problem found.

    base_dir: where relative paths in the config point (default: the config file's folder).
    """
    path = Path(path)
    base = Path(base_dir) if base_dir is not None else None
    tree, pos = read_config(path)
    resolved, recipes, issues = check_tree(tree, pos, overrides, base if base is not None else path.parent)
    if issues:
        for issue in issues:
            issue.message += pos.from_set(issue.path)
        error = ConfigError(format_issues(issues, pos), issues[0].path if len(issues) == 1 else ())
        error.located = True
        raise error
    if "name" not in resolved:  # the file's name names the run; it passes the same rule as `name:`
        problem = name_problem(path.stem)
        if problem is not None:
            raise ConfigError(f"{path}:1:1  no `name:` is given and the file name cannot name the run ({problem}); "
                              f"add `name: NAME`")
        resolved["name"] = path.stem
    if resolved.get("seed") is None:
        resolved["seed"] = random.SystemRandom().randrange(2**31)
    return RunConfig(path, resolved, pos, recipes, list(overrides), base)


__all__ = ["RunConfig", "check_tree", "dump_yaml", "format_issues", "load_config", "read_config"]
