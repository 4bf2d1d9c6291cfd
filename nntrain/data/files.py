"""Own data files: which columns or keys are inputs and targets, and reading one file into a RawSplit.

Formats by suffix: .csv/.csv.gz/.tsv (Table), .npy (a 2-D array read as numbered columns), .npz and .h5/.hdf5
(arrays by key, default x and y), a folder (one sub-folder of .txt files per class).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nntrain.data import formats
from nntrain.data.raw import RawSplit
from nntrain.data.tables import Table, check_columns, read_csv
from nntrain.errors import ConfigError, DataError


def file_format(path: Path) -> str:
    """'csv', 'npy', 'npz', 'h5' or 'folder' from a path's suffix (or it being a folder)."""
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        return "folder"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(".npy"):
        return "npy"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith((".h5", ".hdf5")):
        return "h5"
    if not path.exists():
        raise DataError(f"{path}: not found")
    raise DataError(
        f"{path}: unknown data format {path.suffix!r}; expected .csv, .csv.gz, .npy, .npz, .h5/.hdf5, or a folder "
        "with one sub-folder of .txt files per class"
    )


def resolve(path: str | Path, base_dir: Path) -> Path:
    """A config path: ~ expanded, relative ones taken from the config file's folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(base_dir) / p


def _as_list(ref: Any) -> list:
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
        cols = [_column_name(r, header, ".".join(map(str, path))) for r in _as_list(ref)]
        check_columns(cols, header, source, "target")
        outputs[name] = cols if isinstance(ref, (list, tuple)) else cols[0]
    targets = {c for v in outputs.values() for c in _as_list(v)}

    if spec.get("inputs"):
        in_refs = {n: (spec["inputs"][n], f"inputs.{n}") for n in spec["inputs"]}
    elif spec.get("features") is not None:
        in_refs = {"input": (spec["features"], "features")}
    else:
        in_refs = {"input": ([c for c in header if c not in targets], "features")}
    inputs = {}
    for name, (ref, key) in in_refs.items():
        cols = [_column_name(r, header, key) for r in _as_list(ref)]
        check_columns(cols, header, source, "feature")
        leaked = [c for c in cols if c in targets]
        if leaked:
            raise ConfigError(f"data.{key}: column {leaked[0]!r} is also a target", ("data", *key.split(".")))
        if not cols:
            raise ConfigError(f"data.{key}: no feature columns left for {source}", ("data", *key.split(".")))
        inputs[name] = cols
    return Roles(inputs, outputs)


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


@dataclass
class FileData:
    """One file read into a RawSplit, with what later files must agree with."""

    split: RawSplit
    kinds: dict[str, str]
    sources: dict[str, dict]
    column_kinds: dict[str, str] = field(default_factory=dict)  # table column -> numeric/categorical
    class_names: dict[str, list[str] | None] = field(default_factory=dict)
    classes: list[str] | None = None  # text folder classes, in label order


def _table_split(table: Table, roles: Roles, source: str) -> FileData:
    x = {n: table.select(cols, "feature") for n, cols in roles.inputs.items()}
    y = {}
    for n, cols in roles.outputs.items():
        if isinstance(cols, list):
            part = table.select(cols, "target")
            if any(not part.is_numeric(c) for c in cols):
                raise DataError(f"{source}: a target of several columns must be numeric; {cols} holds text")
            y[n] = np.stack([part.columns[c] for c in cols], axis=1)
        else:
            y[n] = table.columns[cols]
    kinds = {n: "table" for n in x}
    sources = {n: {"type": "columns", "columns": list(cols)} for n, cols in roles.inputs.items()}
    column_kinds = {c: ("numeric" if table.is_numeric(c) else "categorical") for c in table.names}
    rows = np.arange(len(table), dtype=np.int64)
    return FileData(RawSplit(x, y, rows, source), kinds, sources, column_kinds)


def read_file(path: Path, spec: dict, like: FileData | None = None, default_target: str | None = None) -> FileData:
    """Read one train/test/validation file into a RawSplit.

    Args:
        path: the file or text folder.
        spec: the data spec (target/features/inputs/outputs/classes).
        like: the training file's FileData: a test or validation file must have the same layout and is read with
            the same column types and classes.
        default_target: target column when the spec names none (bundled tables).
    """
    path = Path(path)
    fmt = file_format(path)
    source = str(path)
    if fmt in ("csv", "npy"):
        if fmt == "csv":
            from nntrain.data.tables import csv_header

            header = csv_header(path)
            roles = table_roles(spec, header, source, default_target)
            wanted = [c for cols in roles.inputs.values() for c in cols]
            wanted += [c for v in roles.outputs.values() for c in _as_list(v)]
            wanted = list(dict.fromkeys(wanted))
            kinds = {c: like.column_kinds[c] for c in wanted if like and c in like.column_kinds}
            table = read_csv(path, wanted, kinds)
        else:
            arr = formats.read_npy(path)
            if arr.ndim != 2 or arr.dtype.kind not in "biuf":
                raise DataError(
                    f"{path}: a training .npy must be a numeric 2-D table (rows, columns) with the target as one "
                    f"column (data.target: its index); got shape {arr.shape}, dtype {arr.dtype}. Use .npz with x "
                    "and y arrays for other shapes"
                )
            header = [str(i) for i in range(arr.shape[1])]
            table = Table({h: arr[:, i].astype(np.float64) for i, h in enumerate(header)}, source)
            roles = table_roles(spec, header, source, default_target)
        return _table_split(table, roles, source)

    if fmt in ("npz", "h5"):
        roles = key_roles(spec, source)
        keys = list(dict.fromkeys([*roles.inputs.values(), *roles.outputs.values()]))
        if fmt == "npz":
            arrays = formats.read_npz(path)
            missing = [k for k in keys if k not in arrays]
            if missing:
                from nntrain.registry import did_you_mean

                raise DataError(
                    f"{path}: no array {missing[0]!r}{did_you_mean(missing[0], list(arrays))}; the archive holds: "
                    f"{', '.join(arrays)} (set data.features / data.target to choose)"
                )
        else:
            arrays = formats.read_h5(path, keys)
        x = {n: arrays[k] for n, k in roles.inputs.items()}
        y = {n: np.asarray(arrays[k]) for n, k in roles.outputs.items()}
        lengths = {f"{k}": len(arrays[k]) for k in keys}
        if len(set(lengths.values())) > 1:
            raise DataError(f"{path}: arrays have different numbers of rows: {lengths}")
        kinds = {n: formats.array_kind(np.asarray(a)) for n, a in x.items()}
        x = {n: (a.astype(object) if kinds[n] == "text" else a) for n, a in x.items()}
        sources = {n: {"type": "key", "key": k} for n, k in roles.inputs.items()}
        rows = np.arange(len(next(iter(x.values()))), dtype=np.int64)
        return FileData(RawSplit(x, y, rows, source), kinds, sources)

    classes = like.classes if like is not None and like.classes else formats.text_classes(path, spec.get("classes"))
    if like is not None:
        formats.text_classes(path, classes)  # the test folder must have the training classes
    docs, labels = formats.read_text_folder(path, classes)
    split = RawSplit({"input": docs}, {"output": labels}, np.arange(len(docs), dtype=np.int64), source)
    return FileData(split, {"input": "text"}, {"input": {"type": "text"}}, {}, {"output": list(classes)}, classes)


def check_like(data: FileData, train: FileData) -> None:
    """A test/validation file must provide the training file's inputs, outputs and kinds."""
    if set(data.split.x) != set(train.split.x) or set(data.split.y) != set(train.split.y):
        raise DataError(
            f"{data.split.source}: provides inputs {list(data.split.x)} and outputs {list(data.split.y)}, but the "
            f"training data has {list(train.split.x)} and {list(train.split.y)}"
        )
    for name, kind in train.kinds.items():
        if data.kinds[name] != kind:
            raise DataError(f"{data.split.source}: input {name!r} holds {data.kinds[name]} data; training had {kind}")
        a, b = data.split.x[name], train.split.x[name]
        if isinstance(a, np.ndarray) and kind == "array" and a.shape[1:] != b.shape[1:]:
            raise DataError(
                f"{data.split.source}: input {name!r} has samples of shape {a.shape[1:]}; training had {b.shape[1:]}"
            )
