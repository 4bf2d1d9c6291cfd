"""Reading a config file: YAML with positions (every value's FILE:LINE:COL, so errors point at the exact place)
and the command line's `--set key.path=value` overrides applied on top."""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

import yaml

from nntrain.errors import ConfigError


MAX_BYTES_VARIABLE = "NNTRAIN_MAX_CONFIG_BYTES"
MAX_BYTES = 1 << 20  # a config is a page of settings; 1 MiB leaves room for long class lists
MAX_DEPTH = 50  # nesting levels, aliases expanded (real configs need fewer than 10)
MAX_VALUES = 100_000  # values after expanding aliases (a 1 KB "billion laughs" would expand to 10^9)
_MERGE = "tag:yaml.org,2002:merge"


class ConfigLoader(yaml.SafeLoader):
    """yaml.SafeLoader that reads `1e-3` as a float (YAML 1.2), as users write learning rates, and refuses
    duplicate keys: a ConfigError at the second one, naming the line of the first."""

    def __init__(self, stream, file: str = "<config>"):
        super().__init__(stream)
        self.file = file
        self._open = 0  # nodes being composed: check_limits ran first, this only bounds the composer's recursion

    def compose_node(self, parent, index):
        self._open += 1
        if self._open > 2 * MAX_DEPTH:
            raise _refuse(self.file, self.peek_event().start_mark, f"nested more than {MAX_DEPTH} levels deep")
        node = super().compose_node(parent, index)
        self._open -= 1
        return node

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first: dict[tuple, object] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE:
                seen = first.setdefault((key.tag, key.value), key.start_mark)
                if seen is not key.start_mark:
                    raise _refuse(self.file, key.start_mark, f"duplicate key `{key.value}` (first at line "
                                                             f"{seen.line + 1}, column {seen.column + 1}); a key "
                                                             f"appears once in a mapping")
        return node


def _refuse(file: str, mark, message: str) -> ConfigError:
    return ConfigError(f"{file}:{mark.line + 1}:{mark.column + 1}  {message}")


def check_limits(text: str, file: str) -> None:
    """Refuse, before anything is built, a YAML text nested deeper than MAX_DEPTH or holding more than MAX_VALUES
    values once its aliases are expanded (a 1 KB "billion laughs" expands to 10^9), or an alias used inside its
    own anchor. Reads only parser events (libyaml's when installed: 1 MB in well under a second), in constant
    memory; a syntax error is left to the pure-Python parser, whose messages users see."""
    fast = getattr(yaml, "CSafeLoader", None)
    try:
        _scan(yaml.parse(text, Loader=fast or ConfigLoader), file)
    except yaml.YAMLError:
        if fast is None:
            raise
        _scan(yaml.parse(text, Loader=ConfigLoader), file)


def _scan(events, file: str) -> None:
    total = 0  # values so far, every alias expanded
    open_: list[list] = []  # per open collection: [total before it, deepest child, anchor]
    anchored: dict[str, tuple[int, int]] = {}  # anchor -> (values, depth) of its finished node
    for event in events:
        item, anchor = None, None  # (values, depth) of a node just finished, and its anchor
        if isinstance(event, yaml.CollectionStartEvent):
            open_.append([total, 0, event.anchor])
            total += 1
            if len(open_) > MAX_DEPTH:
                raise _refuse(file, event.start_mark, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            before, deepest, anchor = open_.pop()
            item = (total - before, deepest + 1)
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            item, anchor = (1, 1), event.anchor
        elif isinstance(event, yaml.AliasEvent):
            if any(o[2] == event.anchor for o in open_):
                raise _refuse(file, event.start_mark, f"the alias *{event.anchor} is used inside its own anchor "
                                                      f"&{event.anchor}; a config cannot contain itself")
            item = anchored.get(event.anchor, (0, 0))  # an unknown alias: the composer reports it
            total += item[0]
            if len(open_) + item[1] > MAX_DEPTH:
                raise _refuse(file, event.start_mark, f"nested more than {MAX_DEPTH} levels deep once the alias "
                                                      f"*{event.anchor} is expanded")
        if total > MAX_VALUES:
            raise _refuse(file, event.start_mark, f"more than {MAX_VALUES:,} values (each use of an alias counts "
                                                  f"in full); a config is far smaller")
        if item is not None:
            if anchor is not None:
                anchored[anchor] = item
            if open_:
                open_[-1][1] = max(open_[-1][1], item[1])


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


def max_config_bytes() -> int:
    """The config size limit: MAX_BYTES, or the number of bytes in $NNTRAIN_MAX_CONFIG_BYTES."""
    raw = os.environ.get(MAX_BYTES_VARIABLE, "").strip()
    if not raw:
        return MAX_BYTES
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigError(f"${MAX_BYTES_VARIABLE} must be a positive number of bytes, got {raw!r}")
    return int(raw)


def load_yaml(path: Path) -> tuple[object, Positions]:
    """Parse a YAML config file with yaml.safe_load semantics and record where each value is.

    Raises:
        ConfigError: a missing or oversized file, bytes that are not text, a syntax error (with its line and
            column), or what ConfigLoader refuses.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give a YAML config file")
    limit = max_config_bytes()
    try:
        with open(path, "rb") as fp:
            raw = fp.read(limit + 1)  # never more: the file may be huge, or endless (a FIFO, /dev/zero)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    if len(raw) > limit:
        raise ConfigError(f"{path}: the config file is larger than {limit:,} bytes; a config is a page of settings "
                          f"(set ${MAX_BYTES_VARIABLE} to a larger number of bytes to read it anyway)")
    return parse_yaml(_text(raw, str(path)), str(path))


def _text(raw: bytes, file: str) -> str:
    """The characters of a config file: UTF-8 (undecodable bytes replaced), or UTF-16/32 with a byte-order mark."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{file}: starts like {codec.upper()} text but is not ({exc.reason} at byte "
                                  f"{exc.start}); save the config as UTF-8") from None
    nul = raw.find(b"\0")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        col = nul - (raw.rfind(b"\n", 0, nul) + 1) + 1
        raise ConfigError(f"{file}:{line}:{col}  a NUL byte: a config is text; is this a binary file, or UTF-16 "
                          f"without a byte-order mark? Save it as UTF-8")
    return raw.decode("utf-8-sig", errors="replace")


def parse_yaml(text: str, file: str) -> tuple[object, Positions]:
    """A YAML text -> (data, where each value is): `check_limits`, then one pass of ConfigLoader."""
    pos = Positions(file)
    loader = ConfigLoader(text, file)
    try:
        check_limits(text, file)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:  # also from check_limits, which calls the same pure-Python parser
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        what = " ".join(p for p in (exc.problem, exc.context) if p)
        if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
            what += f" that starts at line {exc.context_mark.line + 1}"
        raise ConfigError(f"{where}  YAML syntax error: {what}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}  YAML error: {exc}") from None
    finally:
        loader.dispose()
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
        check_limits(raw, f"--set {key.strip()}")
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
        elif isinstance(node[part], str):  # `optimizer: adam` and --set optimizer.learning_rate=0.1
            node[part] = {"name": node[part]}
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
