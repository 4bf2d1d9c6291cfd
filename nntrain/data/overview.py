"""describe and list_datasets: shapes, tasks and classes for `nntrain check` / `nntrain datasets`, no downloads.

Catalogue sets are described from their metadata; own files from headers and shapes (CSV files are streamed once
to count categories, NPZ/HDF5 targets are read for their classes, feature arrays never are); bundled sets are
small and local, so they go through the real pipeline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nntrain.data import formats
from nntrain.data.sources import bundled, catalogue
from nntrain.data.files import file_format, key_roles, resolve, table_roles
from nntrain.data.pipeline import steps_per_name
from nntrain.data.steps import build_step
from nntrain.data.tables import csv_header, scan_csv
from nntrain.data.encoders import MAX_NUMBER_CLASSES, target_facts


def _propagate(configs: list, shape: tuple | None, hints: dict, path: tuple) -> tuple | None:
    for i, item in enumerate(configs):
        shape = build_step(item, (*path, i)).output_shape(shape, hints)
    return shape


def _output_info(task: str | None, n_classes: int | None, width: int, class_names, steps: list) -> dict:
    for item in steps:
        step = build_step(item, ("data", "target_preprocessing"))
        if step.registered_name == "one_hot":
            width = step.output_shape(None, {"n_classes": n_classes})[0] or width
    return {"task": task, "n_classes": n_classes, "width": width, "class_names": class_names}


def _from_entry(entry, spec: dict) -> dict:
    options = {**entry.options, **dict(spec.get("options") or {})}
    hints = {"vocab_size": options.get("num_words")} if entry.kind == "sequences" else {}
    chosen = catalogue.roles(entry, spec)
    in_steps = steps_per_name(spec.get("preprocessing"), list(chosen.inputs), "preprocessing")
    out_steps = steps_per_name(spec.get("target_preprocessing"), list(chosen.outputs), "target_preprocessing")
    shapes = {n: tuple(entry.sample_shape) if cols is None else (len(cols),) for n, cols in chosen.inputs.items()}
    rows = entry.rows
    if entry.name == "california_housing" and options.get("version") == "small":
        rows = (int(600 * (1 - options["test_split"])), 600 - int(600 * (1 - options["test_split"])))
    return {
        "dataset": entry.name,
        "source": "catalogue",
        "cached": entry.is_cached(),
        "inputs": {n: _propagate(in_steps[n], shape, hints, ("data", "preprocessing")) for n, shape in shapes.items()},
        "outputs": {n: _output_info(entry.task, entry.n_classes, 1, entry.class_names, out_steps[n])
                    for n in chosen.outputs},
        "rows": {"train": rows[0], "test": rows[1]},
    }


def _from_bundle(name: str, spec: dict) -> dict:
    from nntrain.data.dataset import make_bundle
    from nntrain.data.loading import load_raw

    raw = load_raw(spec, Path("."))
    b = make_bundle(raw, spec)
    return {
        "dataset": name,
        "source": "bundled",
        "cached": True,
        "inputs": b.info["inputs"],
        "outputs": b.info["outputs"],
        "rows": {"train": len(raw.train), "test": len(raw.test) if raw.test is not None else None},
    }


def _table_file(path: Path, spec: dict) -> tuple[dict, dict]:
    """(input name -> sample shape, output name -> facts) of a CSV or NPY table."""
    if file_format(path) == "csv":
        header = csv_header(path)
        roles = table_roles(spec, header, str(path))
        wanted = list(dict.fromkeys(
            [c for cols in roles.inputs.values() for c in cols]
            + [c for v in roles.outputs.values() for c in (v if isinstance(v, list) else [v])]
        ))
        scan = scan_csv(path, wanted, MAX_NUMBER_CLASSES)
        inputs = {
            n: (sum(len(scan[c]["values"]) if scan[c]["kind"] == "categorical" else 1 for c in cols),)
            for n, cols in roles.inputs.items()
        }
        outputs = {}
        for n, cols in roles.outputs.items():
            if isinstance(cols, list):
                outputs[n] = ("regression", None, len(cols), None)
            elif scan[cols]["values"] is None:  # more distinct numbers than a class column can have
                outputs[n] = ("regression", None, 1, None)
            else:
                values = sorted(scan[cols]["values"])
                outputs[n] = target_facts(np.array(values, dtype=object if scan[cols]["kind"] == "categorical"
                                                   else np.float64))
        return inputs, outputs
    a = formats.read_npy(path, mmap=True)
    header = [str(i) for i in range(a.shape[1] if a.ndim == 2 else 0)]
    roles = table_roles(spec, header, str(path))
    inputs = {n: (len(cols),) for n, cols in roles.inputs.items()}
    outputs = {}
    for n, cols in roles.outputs.items():
        y = np.asarray(a[:, [int(c) for c in (cols if isinstance(cols, list) else [cols])]])
        outputs[n] = target_facts(y if isinstance(cols, list) else y[:, 0])
    return inputs, outputs


def _key_file(path: Path, spec: dict, fmt: str) -> tuple[dict, dict, dict]:
    roles = key_roles(spec, str(path))
    keys = list(dict.fromkeys([*roles.inputs.values(), *roles.outputs.values()]))
    shapes = formats.npz_shapes(path) if fmt == "npz" else formats.h5_shapes(path, keys)
    for k in keys:
        if k not in shapes:
            from nntrain.errors import DataError

            raise DataError(f"{path}: no array {k!r}; it holds {', '.join(shapes)}")
    targets = (formats.read_npz(path) if fmt == "npz" else formats.read_h5(path, list(roles.outputs.values())))
    kinds, inputs = {}, {}
    for n, k in roles.inputs.items():
        shape, dtype = shapes[k]
        kinds[n] = "array" if np.dtype(dtype).kind in "biuf" else "sequences"
        inputs[n] = tuple(shape[1:]) if kinds[n] == "array" else (None,)
    outputs = {n: target_facts(targets[k]) for n, k in roles.outputs.items()}
    return inputs, outputs, kinds


def describe(spec: dict, base_dir: Path) -> dict:
    """Input shapes and output facts of a data section, without downloading or fitting.

    Returns:
        {"dataset", "source": bundled|catalogue|files, "cached", "inputs": name -> sample shape (None where only
        the data can tell), "outputs": name -> {task, n_classes, width, class_names}, "rows": {train, test}}.
    """
    from nntrain.data.loading import check_source
    from nntrain.data.sources import dataset_entry

    spec = dict(spec or {})
    check_source(spec)
    if spec.get("dataset") is not None:
        entry = dataset_entry(spec["dataset"])
        return _from_bundle(entry.name, spec) if entry.source == "bundled" else _from_entry(entry, spec)

    path = resolve(spec["train"], base_dir)
    fmt = file_format(path)
    hints: dict[str, dict] = {}
    if fmt in ("csv", "npy"):
        inputs, outputs = _table_file(path, spec)
    elif fmt in ("npz", "h5"):
        inputs, outputs, _ = _key_file(path, spec, fmt)
    else:
        classes = formats.text_classes(path, spec.get("classes"))
        tok = dict(spec.get("tokenizer") or {})
        hints["input"] = {"vocab_size": tok["num_words"] + 2 if tok.get("num_words") else None}
        inputs = {"input": (None,)}
        outputs = {"output": ("binary" if len(classes) == 2 else "multiclass", len(classes), 1, list(classes))}

    in_steps = steps_per_name(spec.get("preprocessing"), list(inputs), "preprocessing")
    out_steps = steps_per_name(spec.get("target_preprocessing"), list(outputs), "target_preprocessing")
    return {
        "dataset": str(spec["train"]),
        "source": "files",
        "cached": True,
        "inputs": {
            n: _propagate(in_steps[n], shape, hints.get(n, {}), ("data", "preprocessing"))
            for n, shape in inputs.items()
        },
        "outputs": {n: _output_info(*facts, out_steps[n]) for n, facts in outputs.items()},
        "rows": {"train": None, "test": None},
    }


def list_datasets() -> list[dict]:
    """Every dataset usable by name: name, source, description, shape, classes, task, rows, split, cached."""
    out = []
    for entry in (*bundled.BUNDLED.values(), *catalogue.CATALOGUE.values()):
        rows = entry.split_rows if entry.source == "bundled" else entry.rows
        out.append({
            "name": entry.name,
            "source": entry.source,
            "description": entry.description,
            "shape": tuple(entry.sample_shape),
            "classes": entry.n_classes,
            "class_names": entry.class_names,
            "task": entry.task,
            "rows": int(sum(rows)),
            "split": {"train": int(rows[0]), "test": int(rows[1])},
            "cached": entry.is_cached(),
        })
    return out
