"""CSV and TSV: a header line of column names, then one row per line (gzipped when the name ends in .gz).

Both follow the same column rules (nntrain.data.tables): a column is numeric unless most of its values are not
numbers; data.features / target / inputs / outputs choose columns by name or position.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nntrain.data.columns import option
from nntrain.data.encoders import MAX_NUMBER_CLASSES, target_facts
from nntrain.data.formats.base import (
    Described,
    FileData,
    Format,
    expected_inputs,
    table_data,
)
from nntrain.data.roles import Roles, table_roles
from nntrain.data.tables import describe_table, read_header, read_table, stream_table
from nntrain.errors import DataError


class Delimited(Format):
    """A text table whose values are separated by `delimiter`."""

    def __init__(self, name: str, delimiter: str, suffixes: tuple[str, ...]):
        self.name, self.delimiter, self.suffixes = name, delimiter, suffixes

    def _roles(self, path: Path, spec: dict, default_target: str | None = None) -> Roles:
        return table_roles(spec, read_header(path, self.delimiter), str(path), default_target)

    def read(self, path, spec, like=None, default_target=None) -> FileData:
        roles = self._roles(path, spec, default_target)
        wanted = roles.columns()
        kinds = {c: like.column_kinds[c] for c in wanted if like and c in like.column_kinds}
        return table_data(read_table(path, wanted, kinds, self.delimiter), roles, str(path))

    def describe(self, path, spec) -> Described:
        """Reads the file once: categorical inputs are as wide as their categories, targets as their classes."""
        roles = self._roles(path, spec)
        facts = describe_table(path, roles.columns(), MAX_NUMBER_CLASSES, self.delimiter)

        def width(column: str) -> int:  # a categorical column: its categories (in every row), and <unknown>
            if facts[column]["kind"] != "categorical":
                return 1
            indicator = option(spec.get("categorical"), column, "handle_unknown", "ignore") == "indicator"
            return len(facts[column]["values"]) + indicator

        inputs = {n: (sum(width(c) for c in cols),) for n, cols in roles.inputs.items()}
        outputs = {}
        for n, cols in roles.outputs.items():
            if isinstance(cols, list):
                outputs[n] = ("regression", None, len(cols), None)
            elif facts[cols]["values"] is None:  # more distinct numbers than a class column can have
                outputs[n] = ("regression", None, 1, None)
            else:
                dtype = object if facts[cols]["kind"] == "categorical" else np.float64
                outputs[n] = target_facts(np.array(sorted(facts[cols]["values"]), dtype=dtype))
        return Described(inputs, outputs)

    def stream(self, path, pre, batch_size) -> Iterator[dict[str, Any]]:
        """The training feature columns by name, in any order; the target and other columns are ignored."""
        names = list(pre.inputs)
        if any(pre.inputs[n].source.get("type") != "columns" for n in names):
            raise DataError(
                f"{path}: this model was not trained on {self.name.upper()} columns; it expects {expected_inputs(pre)}"
            )
        columns = list(dict.fromkeys(c for n in names for c in pre.inputs[n].source["columns"]))
        kinds = {}
        for n in names:
            kinds.update(pre.inputs[n].encoder.kinds)
        for chunk in stream_table(path, columns, kinds, batch_size, self.delimiter):
            yield {n: chunk.select(list(pre.inputs[n].source["columns"])) for n in names}


CSV = Delimited("csv", ",", (".csv", ".csv.gz"))
TSV = Delimited("tsv", "\t", (".tsv", ".tsv.gz"))
