"""A small JSON Schema (draft 2020-12 subset) validator that reports every problem with its key path.

Supports: type, properties, additionalProperties (false or a schema), required, enum, const, minimum, maximum,
exclusiveMinimum, exclusiveMaximum, minItems, items, oneOf, anyOf, default. Defaults are filled into the value.
"""

from __future__ import annotations

from dataclasses import dataclass

from nntrain.registry import did_you_mean


@dataclass
class Issue:
    """One problem: where (key path) and what. `key=True` points at a mapping key rather than its value."""

    path: tuple
    message: str
    key: bool = False


_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value, t: str) -> bool:
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[t])


# how messages name a YAML value's type; bool before int, as a bool is an int to Python
_TYPE_NAMES = ((type(None), "null"), (bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
               (list, "list"), (dict, "mapping"))


def type_name(value) -> str:
    """What a message calls the type of `value`: "integer", "mapping", ..."""
    return next((name for t, name in _TYPE_NAMES if isinstance(value, t)), type(value).__name__)


def describe(schema: dict) -> str:
    """A short human phrase for what a schema accepts."""
    if "enum" in schema:
        return "one of " + ", ".join(repr(e) for e in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    for combo in ("oneOf", "anyOf"):
        if combo in schema:
            return " or ".join(dict.fromkeys(describe(s) for s in schema[combo]))
    t = schema.get("type")
    if isinstance(t, list):
        return " or ".join(_type_phrase(x, schema) for x in t)
    if t:
        return _type_phrase(t, schema)
    return "a value"


def _type_phrase(t: str, schema: dict) -> str:
    base = {"object": "a mapping", "array": "a list", "string": "a string", "boolean": "true or false",
            "null": "null", "integer": "an integer", "number": "a number"}[t]
    if t in ("integer", "number"):
        if "minimum" in schema:
            base += f" >= {schema['minimum']}"
        if "exclusiveMinimum" in schema:
            base += f" > {schema['exclusiveMinimum']}"
        if "maximum" in schema:
            base += f" <= {schema['maximum']}"
        if "exclusiveMaximum" in schema:
            base += f" < {schema['exclusiveMaximum']}"
    if t == "object" and schema.get("required") and len(schema.get("properties", {})) == 1:
        base = f"a mapping {{{schema['required'][0]}: ...}}"
    return base


def validate(value, schema: dict, path: tuple = ()) -> tuple[object, list[Issue]]:
    """Check `value` against `schema`. Returns (value with defaults filled, issues)."""
    issues: list[Issue] = []
    value = _validate(value, schema, path, issues)
    return value, issues


def _validate(value, schema, path, issues):
    if "oneOf" in schema or "anyOf" in schema:
        return _choice(value, schema, path, issues)
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(_is_type(value, x) for x in types):
            issues.append(Issue(path, f"wrong type (got {type_name(value)} {_short(value)}, expected {describe(schema)})"))
            return value
    if "const" in schema and value != schema["const"]:
        issues.append(Issue(path, f"got {value!r}, expected {schema['const']!r}"))
    if "enum" in schema and value not in schema["enum"]:
        hint = did_you_mean(value, [str(e) for e in schema["enum"]]) if isinstance(value, str) else ""
        issues.append(Issue(path, f"got {_short(value)}, expected {describe(schema)}{hint}"))
        return value
    if _is_type(value, "number"):
        bad = (
            ("minimum" in schema and value < schema["minimum"])
            or ("maximum" in schema and value > schema["maximum"])
            or ("exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"])
            or ("exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"])
        )
        if bad:
            issues.append(Issue(path, f"out of range (got {value!r}, expected {describe(schema)})"))
    if isinstance(value, dict) and (schema.get("type") == "object" or "properties" in schema):
        value = _object(value, schema, path, issues)
    if isinstance(value, list) and "items" in schema:
        if "minItems" in schema and len(value) < schema["minItems"]:
            issues.append(Issue(path, f"needs at least {schema['minItems']} item(s), got {len(value)}"))
        value = [_validate(v, schema["items"], path + (i,), issues) for i, v in enumerate(value)]
    return value


def _object(value: dict, schema: dict, path, issues):
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    out = {}
    for k, v in value.items():
        if k in props:
            out[k] = _validate(v, props[k], path + (k,), issues)
        elif extra is False:
            issues.append(Issue(path + (k,), f"unknown key `{k}`{did_you_mean(str(k), list(props))}; "
                                             f"valid keys: {', '.join(props)}", key=True))
        elif isinstance(extra, dict):
            out[k] = _validate(v, extra, path + (k,), issues)
        else:
            out[k] = v
    for k in schema.get("required", []):
        if k not in value:
            issues.append(Issue(path, f"missing required key `{k}`"))
    for k, sub in props.items():
        if k not in out and "default" in sub:
            out[k] = _copy(sub["default"])
    return out


def _choice(value, schema, path, issues):
    branches = schema.get("oneOf") or schema.get("anyOf")
    results = []
    for branch in branches:
        sub: list[Issue] = []
        filled = _validate(value, branch, path, sub)
        if not sub:
            return filled
        results.append((branch, sub, filled))
    # Report the branch that came closest: same type, and for mappings the most keys recognised.
    def score(item):
        branch, sub, _ = item
        type_ok = not any(i.path == path and i.message.startswith("wrong type") for i in sub)
        keys = 0
        if isinstance(value, dict):
            keys = len(set(value) & set(branch.get("properties", {})))
        return (type_ok, keys, -len(sub))

    best = max(results, key=score)
    if not score(best)[0]:
        issues.append(Issue(path, f"wrong type (got {type_name(value)} {_short(value)}, expected {describe(schema)})"))
    else:
        issues.extend(best[1])
    return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _copy(v):
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v
