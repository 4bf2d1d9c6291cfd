"""ColumnEncoder: a Table of CSV/TSV columns -> one float32 feature matrix, like scikit-learn's OneHotEncoder.

Numeric columns pass through. Each categorical (text) column becomes one 0/1 feature per category of the training
rows only, sorted; values were stripped of surrounding spaces when read, and case is kept ("Red" is not "red").

A category the training rows never had (in validation, test or predict rows) goes where `handle_unknown` says,
per column (data.categorical):
    ignore      all of the column's features 0 (the default)
    indicator   one more feature, "COLUMN=<unknown>", set to 1
    error       DataError naming the column, the rows and the values
and is counted: `unseen` collects them until `take_unseen` reports them (warnings like "column color: 2 rows with
categories not seen in training (purple, Red)").

A column with more distinct training values than `max_categories` (50), or with more than 20 of which most occur
once (an ID, free text), stops with a message naming it, unless its max_categories says to encode it anyway.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from nntrain.data.state import as_str, as_str_list
from nntrain.data.tables import Table, check_columns, refuse_missing
from nntrain.errors import DataError

UNKNOWN = "<unknown>"
HANDLE_UNKNOWN = ("ignore", "indicator", "error")
IMPUTE_HINT = ("fill them in the file, or add an `impute` step to data.preprocessing (mean, median, most_frequent "
               "or constant)")
_MOSTLY_UNIQUE = 20  # more distinct values than this, most of them once: an ID or free text


def option(options: dict | None, column: str, key: str, default):
    """A data.categorical setting of one column: its own (columns: {NAME: {...}}), else the section's, else default."""
    options = dict(options or {})
    own = dict(options.get("columns") or {}).get(column) or {}
    return own[key] if key in own else options.get(key, default)


def lookup(categories: list[str], values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions, known) of str `values` in sorted `categories`; an unknown value's position is meaningless."""
    cats = np.asarray(categories, dtype=object)
    if not len(cats):
        return np.zeros(len(values), np.int64), np.zeros(len(values), bool)
    idx = np.minimum(np.searchsorted(cats, values), len(cats) - 1)
    return idx, cats[idx] == values


class ColumnEncoder:
    """Fitted column layout of one table input.

    Args:
        options: data.categorical ({handle_unknown, max_categories, columns: {name: {...}}}), or None for defaults.

    Attributes:
        columns: the source column names, in order.
        categories: column name -> sorted category list, for categorical columns only.
        handle_unknown: categorical column name -> "ignore" | "indicator" | "error".
        unseen: column name -> Counter of unseen values, since the last `take_unseen`.
    """

    def __init__(self, columns: list[str] | None = None, categories: dict[str, list[str]] | None = None,
                 handle_unknown: dict[str, str] | None = None, options: dict | None = None):
        self.columns = list(columns or [])
        self.categories = dict(categories or {})
        self.handle_unknown = {c: (handle_unknown or {}).get(c, "ignore") for c in self.categories}
        self.options = dict(options or {})
        self.unseen: dict[str, Counter] = {}

    def _option(self, column: str, key: str, default):
        return option(self.options, column, key, default)

    @property
    def kinds(self) -> dict[str, str]:
        """column -> 'numeric' | 'categorical', to read new files the way training files were read."""
        return {c: "categorical" if c in self.categories else "numeric" for c in self.columns}

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns: a numeric column's name, or 'column=category' (and 'column=<unknown>')."""
        names = []
        for c in self.columns:
            if c not in self.categories:
                names.append(c)
                continue
            names.extend(f"{c}={v}" for v in self.categories[c])
            if self.handle_unknown[c] == "indicator":
                names.append(f"{c}={UNKNOWN}")
        return names

    @property
    def width(self) -> int:
        return len(self.feature_names)

    def fit(self, table: Table) -> ColumnEncoder:
        """Learn the columns and each categorical column's categories from the training rows."""
        self.columns = table.names
        self.categories, self.handle_unknown = {}, {}
        for c in table.names:
            if table.is_numeric(c):
                continue
            counts = Counter(v for v in table.columns[c] if v is not None)
            self._check_cardinality(c, counts, len(table), table.source)
            self.categories[c] = sorted(counts)
            mode = self._option(c, "handle_unknown", "ignore")
            if mode not in HANDLE_UNKNOWN:
                raise DataError(f"data.categorical: handle_unknown of column {c!r} is {mode!r}; expected one of "
                                f"{', '.join(HANDLE_UNKNOWN)}")
            self.handle_unknown[c] = mode
        return self

    def _check_cardinality(self, column: str, counts: Counter, rows: int, source: str) -> None:
        limit = self._option(column, "max_categories", 50)
        own = "max_categories" in (dict(self.options.get("columns") or {}).get(column) or {})
        singles = sum(1 for n in counts.values() if n == 1)
        too_many = limit is not None and len(counts) > limit
        mostly_unique = not own and len(counts) > _MOSTLY_UNIQUE and singles * 2 > len(counts)
        if too_many or mostly_unique:
            why = (f"more than data.categorical max_categories ({limit})" if too_many else
                   f"{singles} of them occur once")
            raise DataError(
                f"{source or 'input'}: column {column!r} has {len(counts)} distinct values in {rows} training rows "
                f"({why}): an ID or free text would make one feature per value. Leave it out with data.drop: "
                f"[{column}] (or list the columns to use in data.features), or encode it anyway with "
                f"data.categorical.columns.{column}.max_categories: {len(counts)} (or null)"
            )

    def transform(self, table: Table) -> np.ndarray:
        """(rows, width) float32; unseen categories as handle_unknown says, counted in `unseen`."""
        source = table.source or "input"
        check_columns(self.columns, table.names, source, "feature")
        out = np.zeros((len(table), self.width), dtype=np.float32)  # filled column by column: no temporaries
        j = 0
        for c in self.columns:
            refuse_missing(table, c, IMPUTE_HINT)
            col = table.columns[c]
            if c not in self.categories:
                if col.dtype == object:
                    raise DataError(f"{source}: column {c!r} holds text, but it was numeric in the training data")
                out[:, j] = col
                j += 1
                continue
            cats = self.categories[c]
            values = np.asarray([str(v) for v in col], dtype=object)
            idx, known = lookup(cats, values)
            rows = np.flatnonzero(known)
            out[rows, j + idx[rows]] = 1.0
            j += len(cats)
            if not known.all():
                self._unseen(table, c, values, ~known)
                if self.handle_unknown[c] == "indicator":
                    out[~known, j] = 1.0
            j += self.handle_unknown[c] == "indicator"
        return out

    def _unseen(self, table: Table, column: str, values: np.ndarray, unknown: np.ndarray) -> None:
        if self.handle_unknown[column] == "error":
            first = np.flatnonzero(unknown)
            shown = ", ".join(f"{values[i]!r} at {table.where(i)}" for i in first[:3])
            raise DataError(
                f"{table.source or 'input'}: column {column!r} has {len(first)} value(s) the training rows never had "
                f"({shown}); its categories are: {', '.join(self.categories[column][:20])} (data.categorical "
                "handle_unknown: error)"
            )
        self.unseen.setdefault(column, Counter()).update(values[unknown].tolist())

    def _case_hint(self, column: str, unseen: Counter) -> str:
        """'; case matters: 'Red' is not 'red'' when an unseen value differs from a category only in case."""
        known = {c.lower(): c for c in self.categories[column]}
        pairs = [(v, known[v.lower()]) for v in unseen if v.lower() in known]
        return f"; case matters: {pairs[0][0]!r} is not {pairs[0][1]!r}" if pairs else ""

    def take_unseen(self, part: str = "") -> list[str]:
        """One line per column that met unseen categories since the last call, and forget them.

        Args:
            part: which rows, e.g. "validation" ("2 validation rows with ..."), or "" for a file's rows.
        """
        lines = []
        for column, counts in self.unseen.items():
            shown = ", ".join(list(counts)[:5]) + (", ..." if len(counts) > 5 else "")  # in order of appearance
            rows = sum(counts.values())
            lines.append(f"column {column}: {rows} {part + ' ' if part else ''}row{'s' if rows > 1 else ''} with "
                         f"categories not seen in training ({shown}){self._case_hint(column, counts)}")
        self.unseen = {}
        return lines

    def get_state(self) -> dict:
        return {"columns": list(self.columns), "categories": {c: list(v) for c, v in self.categories.items()},
                "handle_unknown": dict(self.handle_unknown)}

    @classmethod
    def from_state(cls, state: dict) -> ColumnEncoder:
        unknown = {as_str(c): as_str(v) for c, v in dict(state.get("handle_unknown") or {}).items()}
        return cls(
            as_str_list(state["columns"]),
            {as_str(c): as_str_list(vs) for c, vs in dict(state.get("categories") or {}).items()},
            unknown,
        )
