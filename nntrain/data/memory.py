"""Rows already in memory (a pandas DataFrame, a dict of columns, a NumPy array, a list of documents) as the raw
inputs a fitted Preprocessor transforms, exactly as `nntrain predict` reads the same values from a file.

    raw = raw_inputs(pre, {"sepal_length": [5.1], "sepal_width": [3.5], ...})
    x = pre.transform_x(raw)

pandas is never imported here: a DataFrame is recognised by its `columns` and `to_numpy`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nntrain.data.formats.base import array_input, expected_inputs
from nntrain.data.tables import Table, is_missing
from nntrain.errors import DataError
from nntrain.registry import did_you_mean

WHERE = "the rows given"


def _is_frame(rows: Any) -> bool:
    return hasattr(rows, "columns") and hasattr(rows, "to_numpy") and not isinstance(rows, np.ndarray)


def _missing(value: Any) -> bool:
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, str):
        return is_missing(value)
    return isinstance(value, float) and value != value


def _column(values: Any, name: str, kind: str) -> np.ndarray:
    """One column as the file readers give it: float64 for a numeric column, str objects for a categorical one."""
    a = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values, dtype=object)
    if a.ndim != 1:
        raise DataError(f"{WHERE}: column {name!r} must be one value per row, got shape {a.shape}")
    # a missing value (None, NaN, pandas' NA, or a cell a CSV file would call missing) is what the file readers make
    # of it: None in a categorical column, NaN in a numeric one, for the impute step or the missing-value error
    gone = np.array([_missing(v) for v in a], dtype=bool)
    if kind == "categorical":
        return np.array([None if g else str(v).strip() for v, g in zip(a, gone)], dtype=object)
    a[gone] = np.nan
    try:
        return a.astype(np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{WHERE}: column {name!r} holds values that are not numbers, but it was numeric in the "
                        f"training data") from None


def _table(pipeline, columns: dict) -> Table:
    """The training feature columns of one table input, by name, from a mapping of columns."""
    kinds = pipeline.encoder.kinds
    wanted = list(pipeline.source["columns"])
    for name in wanted:
        if name not in columns:
            raise DataError(f"{WHERE}: no column {name!r}{did_you_mean(name, [str(c) for c in columns])}; the model "
                            f"reads the columns {wanted}")
    return Table({c: _column(columns[c], c, kinds[c]) for c in wanted}, WHERE)


def _documents(values: Any) -> np.ndarray:
    docs = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else list(values), dtype=object)
    if docs.ndim != 1 or not all(isinstance(d, str) for d in docs):
        raise DataError(f"{WHERE}: a text model takes a list of documents (str), one per row")
    return docs


def raw_inputs(pre, rows: Any) -> dict[str, Any]:
    """Raw inputs (input name -> Table, array or documents) for `pre.transform_x`.

    Args:
        pre: the fitted Preprocessor of a trained run.
        rows: a DataFrame or a dict of columns (the training feature columns by name; others ignored); for array
            inputs a dict input name -> array, or one array (rows, ...) for a single input; for a model trained on
            CSV columns also a numeric array (rows, features) in the training column order; for a text model a
            list of documents.

    Raises:
        DataError: missing columns or inputs, wrong feature count or sample shape, naming what the model expects.
    """
    names = list(pre.inputs)
    if _is_frame(rows):
        rows = {str(c): rows[c] for c in rows.columns}
    if isinstance(rows, dict):
        result = {}
        for name in names:
            p = pre.inputs[name]
            if p.kind == "table" and p.source.get("type") == "columns":
                result[name] = _table(p, rows)
            elif name in rows or len(names) == 1 and len(rows) == 1:
                value = rows[name] if name in rows else next(iter(rows.values()))
                result[name] = _documents(value) if p.kind == "text" else _array(pre, name, value)
            else:
                raise DataError(f"{WHERE}: no data for model input {name!r}; the model expects "
                                f"{expected_inputs(pre)}")
        return result
    if len(names) == 1 and pre.inputs[names[0]].kind == "text":
        return {names[0]: _documents(rows)}
    if len(names) != 1 and any(pre.inputs[n].source.get("type") != "x_columns" for n in names):
        raise DataError(f"{WHERE}: this model has inputs {names}; give a dict input name -> array, or a DataFrame "
                        f"of the columns ({expected_inputs(pre)})")
    return {n: _array(pre, n, rows) for n in names}


def _array(pre, name: str, values: Any) -> Any:
    a = np.asarray(values)
    p = pre.inputs[name]
    if a.ndim == 1 and p.kind == "table":  # one row of feature values; a single feature: one value per row
        a = a[:, None] if len(p.source.get("columns", ())) == 1 else a[None, :]
    return array_input(pre, name, a, WHERE)
