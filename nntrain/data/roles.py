"""Roles: which columns of a table (CSV, TSV, NPY) or which arrays of a keyed file (NPZ, HDF5) feed each model
input and output, from data.features / target / inputs / outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nntrain.data.tables import check_columns
from nntrain.errors import ConfigError


def as_list(ref: Any) -> list:
    return list(ref) if isinstance(ref, (list, tuple)) else [ref]


def _column_name(ref: Any, header: list[str], key: str) -> str:
    """A column given by name, or by position (negative counts from the end)."""
    if isinstance(ref, bool) or not isinstance(ref, (str, int)):
        raise ConfigError(f"data.{key}: a column is a name or an index, got {ref!r}", ("data", key))
    if isinstance(ref, int):
        if not -len(header) <= ref < len(header):
            raise ConfigError(
                f"data.{key}: column index {ref} is out of range for {len(header)} columns", ("data", key)
            )
        return header[ref]
    return ref


@dataclass
class Roles:
    """Which columns (tables) or keys (array files) feed each input and output.

    Attributes:
        inputs: input name -> column names (tables) or a key (array files).
        outputs: output name -> one column name / key (1-D target) or a list of columns (2-D target).
    """

    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    weight: str | None = None  # the sample weight column (tables)

    def columns(self) -> list:
        """Every column (or key) named, inputs first, each once: what to read from the file."""
        named = [*self.inputs.values(), *self.outputs.values(), *([self.weight] if self.weight else [])]
        return list(dict.fromkeys(c for v in named for c in as_list(v)))


def table_roles(spec: dict, header: list[str], source: str, default_target: str | None = None) -> Roles:
    """Input columns and target columns of a table from data.features/inputs/target/outputs."""
    if spec.get("outputs"):
        out_refs = {n: (spec["outputs"][n], ("outputs", n)) for n in spec["outputs"]}
    else:
        target = spec.get("target", default_target)
        if target is None:
            raise ConfigError(
                f"data.target is required for {source}: name the label column (one of: {', '.join(header[:20])})",
                ("data", "target"),
            )
        out_refs = {"output": (target, ("target",))}
    outputs: dict[str, Any] = {}
    for name, (ref, path) in out_refs.items():
        cols = [_column_name(r, header, ".".join(map(str, path))) for r in as_list(ref)]
        check_columns(cols, header, source, "target")
        outputs[name] = cols if isinstance(ref, (list, tuple)) else cols[0]
    targets = {c for v in outputs.values() for c in as_list(v)}
    weight = spec.get("sample_weight")
    if weight is not None:
        check_columns([weight], header, source, "sample weight")
        if weight in targets:
            raise ConfigError(f"data.sample_weight: column {weight!r} is also a target", ("data", "sample_weight"))

    drop = _dropped(spec, header, source)
    if spec.get("inputs"):
        in_refs = {n: (spec["inputs"][n], f"inputs.{n}") for n in spec["inputs"]}
    elif spec.get("features") is not None:
        in_refs = {"input": (spec["features"], "features")}
    else:
        in_refs = {"input": ([c for c in header if c not in targets and c != weight and c not in drop], "features")}
    inputs = {}
    for name, (ref, key) in in_refs.items():
        cols = [_column_name(r, header, key) for r in as_list(ref)]
        check_columns(cols, header, source, "feature")
        leaked = [c for c in cols if c in targets or c == weight]
        if leaked:
            role = "a target" if leaked[0] in targets else "data.sample_weight"
            raise ConfigError(f"data.{key}: column {leaked[0]!r} is also {role}", ("data", *key.split(".")))
        if not cols:
            raise ConfigError(f"data.{key}: no feature columns left for {source}", ("data", *key.split(".")))
        inputs[name] = cols
    return Roles(inputs, outputs, weight)


def _dropped(spec: dict, header: list[str], source: str) -> set[str]:
    """data.drop: columns left out of the default features (IDs, free text); it cannot go with a feature list."""
    drop = spec.get("drop") or []
    if not drop:
        return set()
    if spec.get("inputs") or spec.get("features") is not None:
        given = "inputs" if spec.get("inputs") else "features"
        raise ConfigError(f"data.drop leaves columns out of the default features; data.{given} already lists the "
                          "features: give one of the two", ("data", "drop"))
    names = [_column_name(r, header, "drop") for r in as_list(drop)]
    check_columns(names, header, source, "drop")
    return set(names)


def key_roles(spec: dict, source: str) -> Roles:
    """Input and target keys of an NPZ/HDF5 file (defaults x and y)."""

    def key(ref: Any, where: tuple) -> str:
        if not isinstance(ref, str):
            raise ConfigError(
                f"data.{'.'.join(where)}: {source} holds arrays by name, so give one key (string), got {ref!r}",
                ("data", *where),
            )
        return ref

    if spec.get("outputs"):
        outputs = {n: key(r, ("outputs", n)) for n, r in spec["outputs"].items()}
    else:
        outputs = {"output": key(spec.get("target", "y"), ("target",))}
    if spec.get("inputs"):
        inputs = {n: key(r, ("inputs", n)) for n, r in spec["inputs"].items()}
    else:
        inputs = {"input": key(spec.get("features", "x"), ("features",))}
    return Roles(inputs, outputs)
