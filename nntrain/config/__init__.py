"""Config files: YAML -> one validated, defaults-filled dict, with every mistake reported at once as
`FILE:LINE:COL  key.path: what is wrong (got X, expected Y)` before anything is loaded or trained."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nntrain.config.validator import Issue, type_name
from nntrain.config.yamlpos import Positions, load_yaml
from nntrain.errors import ConfigError, NNTrainError
from nntrain.registry import did_you_mean

SECTIONS = ["name", "seed", "data", "model", "loss", "loss_weights", "metrics", "optimizer", "training", "callbacks"]


@dataclass
class RunConfig:
    """A validated config. `resolved` is the whole config with defaults, seed and overrides applied."""

    path: Path
    resolved: dict
    positions: Positions
    overrides: list[str] = field(default_factory=list)
    base: Path | None = None  # where relative paths point (a resumed run: the original config's folder)

    @property
    def base_dir(self) -> Path:
        return self.base if self.base is not None else self.path.parent

    def __getitem__(self, key):
        return self.resolved[key]

    def where(self, path: tuple) -> str:
        return self.positions.where(path)

    def locate(self, exc: NNTrainError, path: tuple) -> NNTrainError:
        """The same error, prefixed with the FILE:LINE:COL and key path of the config entry `path`
        (unchanged when it already names a place in this file)."""
        message = str(exc)
        if message.startswith(self.positions.file):
            return exc
        dotted = ".".join(map(str, path))
        message = message.removeprefix(f"{dotted}: ")  # the message may already start with the key
        message += self.positions.from_set(path)
        located = type(exc)(f"{self.where(path)}  {dotted}: {message}")
        if isinstance(located, ConfigError):
            located.path = tuple(path)
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


# --- overrides ------------------------------------------------------------------------------------------
def parse_override(text: str) -> tuple[list, object]:
    """`training.epochs=50` -> (["training", "epochs"], 50); values typed like YAML, `3e-4` as a float."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key.path=value, e.g. --set training.epochs=50")
    key, _, raw = text.partition("=")
    parts: list = [int(p) if p.isdigit() else p for p in key.strip().split(".")]
    if not key.strip() or "" in parts:
        raise ConfigError(f"--set {text!r}: the key path is empty or has an empty part")
    from nntrain.config.yamlpos import ConfigLoader

    try:
        value = yaml.load(raw, Loader=ConfigLoader) if raw.strip() else ""  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value.lower() for c in ".e") else int(value)
        except ValueError:
            pass
    return parts, value


def _schema_at(schema: dict, parts: list) -> dict | None:
    """The sub-schema at a key path (following properties, items and the first object-like branch)."""
    for part in parts:
        if schema is None:
            return None
        for combo in ("anyOf", "oneOf"):
            if combo in schema:
                schema = next((b for b in schema[combo] if "properties" in b or "items" in b
                               or isinstance(b.get("additionalProperties"), dict)), None) or {}
        if isinstance(part, int):
            schema = schema.get("items")
        else:
            props = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            schema = props.get(part) if part in props else (extra if isinstance(extra, dict) else None)
    return schema


def _typed_by_schema(parts: list, value, text: str):
    """`--set name=2024` stays the string "2024" where the schema wants a string."""
    if isinstance(value, str):
        return value
    from nntrain.config.schema import config_schema

    schema = _schema_at(config_schema(), parts)
    if schema and (schema.get("type") == "string" or all(isinstance(e, str) for e in schema.get("enum", [1]))):
        return text.partition("=")[2]
    return value


def apply_override(tree: dict, parts: list, value, text: str) -> None:
    node = tree
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not isinstance(part, int) or not 0 <= part < len(node):
                raise ConfigError(f"--set {text!r}: `{'.'.join(map(str, parts[:i]))}` has {len(node)} items, "
                                  f"no item {part}")
            node = node[part]
            # a `- Dense: {units: 8}` item: descend into its arguments
            if isinstance(node, dict) and len(node) == 1 and parts[i + 1] not in node:
                inner = next(iter(node.values()))
                if isinstance(inner, dict):
                    node = inner
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"--set {text!r}: `{'.'.join(map(str, parts[:i]))}` is not a mapping")
        if part not in node or node[part] is None:
            node[part] = {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or not 0 <= last < len(node):
            raise ConfigError(f"--set {text!r}: no item {last} in a list of {len(node)}")
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"--set {text!r}: `{'.'.join(map(str, parts[:-1]))}` is not a mapping")


# --- loading --------------------------------------------------------------------------------------------
def load_config(path, overrides: list[str] | tuple = (), base_dir: Path | None = None) -> RunConfig:
    """Read, override and validate a config file. Raises ConfigError listing every problem found.

    base_dir: where relative paths in the config point (default: the config file's folder).
    """
    from nntrain.config.sections import check_sections

    path = Path(path)
    tree, pos = load_yaml(path)
    if tree is None:
        raise ConfigError(f"{path}:1:1  the config file is empty; it needs at least `data`, `model` and `loss`")
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}:1:1  the config must be a mapping of sections ({', '.join(SECTIONS)}), "
                          f"got a {type_name(tree)}")
    for text in overrides:
        parts, value = parse_override(text)
        value = _typed_by_schema(parts, value, text)
        apply_override(tree, parts, value, text)
        pos.overridden.add(tuple(parts))
    resolved, issues = check_sections(tree, Path(base_dir) if base_dir is not None else path.parent)
    if issues:
        for issue in issues:
            issue.message += pos.from_set(issue.path)
        raise ConfigError(format_issues(issues, pos))
    resolved.setdefault("name", path.stem)
    if resolved.get("seed") is None:
        resolved["seed"] = random.SystemRandom().randrange(2**31)
    return RunConfig(path=path, resolved=resolved, positions=pos, overrides=list(overrides),
                     base=Path(base_dir) if base_dir is not None else None)


__all__ = ["RunConfig", "dump_yaml", "load_config", "format_issues", "parse_override", "ConfigError", "NNTrainError",
           "did_you_mean"]
