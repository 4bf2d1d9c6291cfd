"""ColumnEncoder: a Table of CSV columns -> one float32 feature matrix.

Numeric columns pass through; each categorical (text) column becomes one 0/1 column per category seen in the
training rows (sorted). A category the training rows never had encodes as all zeros, so prediction on new data
does not fail on a new value.
"""

from __future__ import annotations

import numpy as np

from nntrain.data.state import as_str, as_str_list
from nntrain.data.tables import Table, check_columns
from nntrain.errors import DataError


class ColumnEncoder:
    """Fitted column layout of one table input.

    Attributes:
        columns: the source column names, in order.
        categories: column name -> sorted category list, for categorical columns only.
    """

    def __init__(self, columns: list[str] | None = None, categories: dict[str, list[str]] | None = None):
        self.columns = list(columns or [])
        self.categories = dict(categories or {})

    @property
    def kinds(self) -> dict[str, str]:
        """column -> 'numeric' | 'categorical', to read new files the way training files were read."""
        return {c: "categorical" if c in self.categories else "numeric" for c in self.columns}

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns: a numeric column's name, or 'column=category'."""
        names = []
        for c in self.columns:
            names.extend([f"{c}={v}" for v in self.categories[c]] if c in self.categories else [c])
        return names

    @property
    def width(self) -> int:
        return len(self.feature_names)

    def fit(self, table: Table) -> ColumnEncoder:
        self.columns = table.names
        self.categories = {
            c: sorted({str(v) for v in table.columns[c]}) for c in table.names if not table.is_numeric(c)
        }
        return self

    def transform(self, table: Table) -> np.ndarray:
        """(rows, width) float32."""
        check_columns(self.columns, table.names, table.source or "input", "feature")
        parts = []
        for c in self.columns:
            col = table.columns[c]
            if c in self.categories:
                cats = np.asarray(self.categories[c], dtype=object)
                values = np.asarray([str(v) for v in col], dtype=object)
                idx = np.minimum(np.searchsorted(cats, values), len(cats) - 1)
                parts.append((cats[idx] == values)[:, None] & (idx[:, None] == np.arange(len(cats))))
            else:
                if col.dtype == object:
                    raise DataError(
                        f"{table.source or 'input'}: column {c!r} holds text, but it was numeric in the training data"
                    )
                parts.append(col[:, None])
        if not parts:
            return np.zeros((len(table), 0), dtype=np.float32)
        return np.concatenate([p.astype(np.float32) for p in parts], axis=1)

    def get_state(self) -> dict:
        return {"columns": list(self.columns), "categories": {c: list(v) for c, v in self.categories.items()}}

    @classmethod
    def from_state(cls, state: dict) -> ColumnEncoder:
        return cls(
            as_str_list(state["columns"]),
            {as_str(c): as_str_list(vs) for c, vs in dict(state.get("categories") or {}).items()},
        )
