"""Reading a config file: YAML with positions (every value's FILE:LINE:COL, so errors point at the exact place)
and the command line's `--set key.path=value` overrides applied on top."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from nntrain.errors import ConfigError


class ConfigLoader(yaml.SafeLoader):
    """yaml.SafeLoader that also reads `1e-3` as a float (YAML 1.2), as users write learning rates."""


ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"""),
    list("-+0123456789"),
)


class Positions:
    """Maps key paths (tuples of keys and list indices) to (line, col), 1-based."""

    def __init__(self, file: str):
        self.file = file
        self.map: dict[tuple, tuple[int, int]] = {}
        self.key_map: dict[tuple, tuple[int, int]] = {}  # where a mapping key itself is written
        self.overridden: set[tuple] = set()  # key paths whose value came from --set

    def from_set(self, path) -> str:
        """' (from --set a.b, ...)' when --set gave the value at `path` or below it, else "": the message's
        position then points at the file's entry, but the value is the command line's."""
        path = tuple(path)
        if not path:  # a problem with the whole file is not about one value
            return ""
        keys = sorted(".".join(map(str, p)) for p in self.overridden if p[:len(path)] == path)
        return f" (from --set {', '.join(keys)})" if keys else ""

    def where(self, path: tuple, key: bool = False) -> str:
        """`file:line:col` for the deepest known part of `path`."""
        path = tuple(path)
        table = self.key_map if key and path in self.key_map else self.map
        while path and path not in table:
            path = path[:-1]
            table = self.map
        line, col = table.get(path, (1, 1))
        return f"{self.file}:{line}:{col}"


def _walk(node, path: tuple, pos: Positions) -> None:
    pos.map[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            try:
                key = yaml.safe_load(yaml.serialize(k)) if not isinstance(k, yaml.ScalarNode) else k.value
            except yaml.YAMLError:
                key = k.value
            if isinstance(k, yaml.ScalarNode) and k.tag.endswith(":int"):
                key = int(k.value)
            pos.key_map[path + (key,)] = (k.start_mark.line + 1, k.start_mark.column + 1)
            _walk(v, path + (key,), pos)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, path + (i,), pos)


def load_yaml(path: Path) -> tuple[object, Positions]:
    """Parse a YAML file with yaml.safe_load semantics and record where each value is.

    Raises:
        ConfigError: missing file, or a syntax error with its line and column.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give a YAML config file")
    text = path.read_text(encoding="utf-8", errors="replace")
    return parse_yaml(text, str(path))


def parse_yaml(text: str, file: str) -> tuple[object, Positions]:
    pos = Positions(file)
    try:
        data = yaml.load(text, Loader=ConfigLoader)  # noqa: S506 - a SafeLoader subclass
        node = yaml.compose(text, Loader=ConfigLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        what = " ".join(p for p in (exc.problem, exc.context) if p)
        if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
            what += f" that starts at line {exc.context_mark.line + 1}"
        raise ConfigError(f"{where}  YAML syntax error: {what}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}  YAML error: {exc}") from None
    if node is not None:
        _walk(node, (), pos)
    return data, pos


# --- --set overrides ------------------------------------------------------------------------------------
def apply_overrides(tree: dict, overrides, pos: Positions) -> None:
    """Apply each `key.path=value` to `tree`, typed like YAML (and as the schema wants), recording in `pos` which
    values came from the command line."""
    for text in overrides:
        parts, value = parse_override(text)
        _set(tree, parts, _typed_by_schema(parts, value, text), text)
        pos.overridden.add(tuple(parts))


def parse_override(text: str) -> tuple[list, object]:
    """`training.epochs=50` -> (["training", "epochs"], 50); values typed like YAML, `3e-4` as a float."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key.path=value, e.g. --set training.epochs=50")
    key, _, raw = text.partition("=")
    parts: list = [int(p) if p.isdigit() else p for p in key.strip().split(".")]
    if not key.strip() or "" in parts:
        raise ConfigError(f"--set {text!r}: the key path is empty or has an empty part")
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


def _set(tree: dict, parts: list, value, text: str) -> None:
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
