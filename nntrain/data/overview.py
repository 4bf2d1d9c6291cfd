"""describe and list_datasets: shapes, tasks and classes for `nntrain check` / `nntrain datasets`, no downloads.

Catalogue sets are described from their metadata; own files by their format (nntrain.data.formats: headers and
shapes; CSV/TSV files are read once (read_table) to count categories, NPZ/HDF5 targets are read for their
classes, feature arrays never are); bundled sets are small and local, so they go through the real pipeline.
"""

from __future__ import annotations

from pathlib import Path

from nntrain.data.dataset import make_bundle
from nntrain.data.formats import format_of
from nntrain.data.loading import check_source, load_raw, reading, resolve_path
from nntrain.data.pipeline import steps_per_name
from nntrain.data.sources import bundled, catalogue, dataset_entry
from nntrain.data.steps import build_step


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


def _from_bundled(name: str, spec: dict) -> dict:
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


def describe(spec: dict, base_dir: Path) -> dict:
    """Input shapes and output facts of a data section, without downloading or fitting.

    Returns:
        {"dataset", "source": bundled|catalogue|files, "cached", "inputs": name -> sample shape (None where only
        the data can tell), "outputs": name -> {task, n_classes, width, class_names}, "rows": {train, test}}.
    """
    spec = dict(spec or {})
    check_source(spec)
    if spec.get("dataset") is not None:
        entry = dataset_entry(spec["dataset"])
        return _from_bundled(entry.name, spec) if entry.source == "bundled" else _from_entry(entry, spec)

    path = resolve_path(spec["train"], base_dir)
    with reading("train"):
        inputs, outputs, hints = format_of(path).describe(path, spec)
    hints = hints or {}
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
