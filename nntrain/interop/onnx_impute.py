"""The `impute` step as ONNX nodes: a missing value filled with its fitted value, and the 0/1 indicator features.

A table input imputes its columns before they are encoded (data/pipeline.py), so here it works on the graph's raw
inputs: a numeric column is missing where its float32 value is NaN; a categorical column's string is missing where
it is empty or one of the tokens a CSV cell calls missing (NA, N/A, NaN, nan, ?), given without surrounding spaces.
A numeric array input imputes its columns as the step's transform does: NaN -> the fitted number, then the
indicator columns appended.
"""

from __future__ import annotations

import numpy as np

from nntrain.data.impute import SUFFIX
from nntrain.data.tables import MISSING_TOKENS
from nntrain.interop.onnx_graph import GraphBuilder


class TableImpute:
    """The fitted impute step of a table input, answering per column of the encoder's column list."""

    def __init__(self, step):
        self.step = step
        self.base_of = {c + SUFFIX: c for c in step.indicators}  # indicator feature -> the column it flags

    def numbers(self, b: GraphBuilder, numbers: str, columns: list[str], hint: str) -> tuple[str, str]:
        """(filled float32 (batch, n), NaN mask (batch, n) bool) of the numeric input holding `columns`."""
        step = self.step  # a column the step does not fill keeps its NaN, as the encoder would see it
        fills = [step.number_fill(step.columns.index(c)) if c in step.columns else np.nan for c in columns]
        nan = b.op("IsNaN", [numbers], f"{hint}/isnan")
        fill = b.const(f"{hint}/fill", np.asarray([fills], np.float32))
        return b.op("Where", [nan, fill, numbers], f"{hint}/imputed"), nan

    def text(self, b: GraphBuilder, column: str, col: str) -> tuple[str, str]:
        """(filled string (batch, 1), missing indicator float32 (batch, 1)) of one categorical column `col`."""
        tokens = b.const(f"{column}/missing_tokens", np.asarray([sorted(MISSING_TOKENS)], dtype=object))
        hits = b.op("Cast", [b.op("Equal", [col, tokens], f"{column}/is_token")], f"{column}/token_hits",
                    to=b.onnx.TensorProto.FLOAT)
        flag = b.op("ReduceMax", [hits, b.const(f"{column}/axis", np.asarray([1], np.int64))], f"{column}/missing",
                    keepdims=1)
        if column not in self.step.columns:
            return col, flag
        value = self.step.text_fill(self.step.columns.index(column))
        missing = b.op("Cast", [flag], f"{column}/missing_bool", to=b.onnx.TensorProto.BOOL)
        filled = b.op("Where", [missing, b.const(f"{column}/fill", np.asarray([[value]], dtype=object)), col],
                      f"{column}/imputed")
        return filled, flag


def array_impute(b: GraphBuilder, step, x: str, hint: str) -> str:
    """An array input's impute step on float32 `x` (batch, columns): NaN filled, indicator columns appended."""
    nan = b.op("IsNaN", [x], f"{hint}/isnan")
    filled = b.op("Where", [nan, b.const(f"{hint}/fill", step.numbers.astype(np.float32)), x], hint)
    if not step.indicators:
        return filled
    at = b.const(f"{hint}/flagged", np.asarray([int(c) for c in step.indicators], np.int64))
    flags = b.op("Cast", [b.op("Gather", [nan, at], f"{hint}/flags", axis=1)], f"{hint}/indicators",
                 to=b.onnx.TensorProto.FLOAT)
    return b.op("Concat", [filled, flags], f"{hint}/with_indicators", axis=1)
