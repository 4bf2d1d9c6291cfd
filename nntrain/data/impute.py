"""The `impute` preprocessing step: missing values filled with a value fitted on the training rows, like
scikit-learn's SimpleImputer, optionally with a 0/1 missing-indicator feature per column.

On a CSV/TSV input it works on the columns, before they are encoded (so a text column is filled with a category,
then one-hot encoded); on a numeric array input, on the array's columns (NaN is missing). The fitted values and
the indicator columns are the step's state, saved in the checkpoint and re-applied by evaluate and predict.

Strategies: mean, median (numeric columns), most_frequent (ties: the smallest value), constant (`fill_value`,
default 0 for numbers and "missing" for text). A text column under mean or median takes its most frequent
category. A column with no training value at all is filled with the constant.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from nntrain.data.state import as_str_list
from nntrain.data.steps import STEPS, Step
from nntrain.data.tables import Table
from nntrain.errors import ConfigError, DataError

STRATEGIES = ("mean", "median", "most_frequent", "constant")
SUFFIX = "_missing"  # the indicator feature of column c is c + SUFFIX


def _most_frequent(values) -> Any:
    counts = Counter(values)
    top = max(counts.values())
    return min(v for v, n in counts.items() if n == top)


@STEPS.register("impute", "simple_imputer")
class Impute(Step):
    """Fill missing values (NaN, or a missing text value) per column.

    Args:
        strategy: "mean" | "median" | "most_frequent" | "constant".
        fill_value: the constant (a number, or text for text columns); default 0 / "missing".
        add_indicator: add a 0/1 feature "<column>_missing" for each column that had missing training values.
    """

    def __init__(self, strategy: str = "mean", fill_value: float | str | None = None, add_indicator: bool = False):
        if strategy not in STRATEGIES:
            raise ConfigError(f"impute expects strategy one of {', '.join(STRATEGIES)}, got strategy={strategy!r}")
        if fill_value is not None and (isinstance(fill_value, bool) or not isinstance(fill_value, (int, float, str))):
            raise ConfigError(f"impute expects a number or text fill_value, got fill_value={fill_value!r}")
        if not isinstance(add_indicator, bool):
            raise ConfigError(f"impute expects true or false add_indicator, got add_indicator={add_indicator!r}")
        self.strategy, self.fill_value, self.add_indicator = strategy, fill_value, add_indicator
        self.columns: list[str] = []
        self.numbers: np.ndarray | None = None  # (columns,) float64 fill of numeric columns (NaN for text ones)
        self.texts: list[str] = []  # fill of text columns ("" for numeric ones)
        self.indicators: list[str] = []  # columns that get a missing-indicator feature

    def get_config(self):
        return {"strategy": self.strategy, "fill_value": self.fill_value, "add_indicator": self.add_indicator}

    def _number(self, values: np.ndarray) -> float:
        if self.strategy == "constant" or not len(values):
            return float(self.fill_value) if isinstance(self.fill_value, (int, float)) else 0.0
        if self.strategy == "mean":
            return float(values.mean())
        if self.strategy == "median":
            return float(np.median(values))
        return float(_most_frequent(values.tolist()))

    def _text(self, values: list) -> str:
        if self.strategy == "constant" or not values:
            return str(self.fill_value) if isinstance(self.fill_value, str) else "missing"
        return str(_most_frequent(values))

    def _columns_of(self, x: Any) -> list[tuple[str, np.ndarray]]:
        if isinstance(x, Table):
            return list(x.columns.items())
        x = np.asarray(x)
        if x.ndim != 2 or x.dtype.kind not in "biuf":
            raise ConfigError(f"impute works on table columns or a 2-D numeric array, got an array of shape "
                              f"{x.shape} and dtype {x.dtype}")
        return [(str(j), x[:, j]) for j in range(x.shape[1])]

    def fit(self, x, hints):
        self.columns, numbers, self.texts, self.indicators = [], [], [], []
        for name, col in self._columns_of(x):
            missing = np.isnan(col) if col.dtype != object else np.equal(col, None)
            self.columns.append(name)
            if col.dtype == object:
                numbers.append(np.nan)
                self.texts.append(self._text([v for v in col if v is not None]))
            else:
                numbers.append(self._number(col[~missing].astype(np.float64)))
                self.texts.append("")
            if self.add_indicator and missing.any():
                self.indicators.append(name)
        self.numbers = np.asarray(numbers, np.float64)

    def transform(self, x):
        if isinstance(x, Table):
            return self._table(x)
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != len(self.columns):
            raise DataError(f"impute was fitted on {len(self.columns)} columns, got an array of shape {x.shape}")
        missing = np.isnan(x) if x.dtype.kind == "f" else np.zeros(x.shape, bool)
        out = np.where(missing, self.numbers.astype(x.dtype if x.dtype.kind == "f" else np.float64), x)
        flags = [missing[:, int(c)].astype(out.dtype) for c in self.indicators]
        return np.column_stack([out, *flags]) if flags else out

    def number_fill(self, j: int) -> float:
        """What fills a missing value of table column j when it holds numbers."""
        return self.numbers[j] if np.isfinite(self.numbers[j]) else 0.0

    def text_fill(self, j: int) -> str:
        """What fills a missing value of table column j when it holds text ("": numeric in training; the encoder
        then says the column's type changed)."""
        return self.texts[j] or "missing"

    def _table(self, table: Table) -> Table:
        columns = {}
        for j, name in enumerate(self.columns):
            if name not in table.columns:
                continue  # the encoder names the missing column
            col = table.columns[name]
            if col.dtype == object:
                missing = np.equal(col, None)
                filled = col.copy()
                filled[missing] = self.text_fill(j)
            else:
                missing = np.isnan(col)
                filled = np.where(missing, self.number_fill(j), col)
            columns[name] = filled
            if name in self.indicators:
                columns[name + SUFFIX] = missing.astype(np.float64)
        return Table(columns, table.source, table.rows)

    def get_state(self):
        return {"columns": list(self.columns), "numbers": self.numbers, "texts": list(self.texts),
                "indicators": list(self.indicators)}

    def set_state(self, state):
        self.columns = as_str_list(state["columns"])
        self.numbers = np.asarray(state["numbers"], np.float64).reshape(-1)
        self.texts = as_str_list(state.get("texts"))
        self.indicators = as_str_list(state.get("indicators"))
        if len(self.texts) < len(self.columns):  # empty strings may come back as nothing
            self.texts += [""] * (len(self.columns) - len(self.texts))

    # output_shape: the input's, as far as `nntrain check` without --data can tell; the indicators (one per column
    # with missing training values) are known once fitted, and `check --data` and fit size the model from them
