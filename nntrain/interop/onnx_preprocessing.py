"""The fitted preprocessing of a run as ONNX nodes: raw feature values in, classes and values in raw units out.

Inputs (one InputPipeline each, nntrain/data/pipeline.py):
    table       numeric columns: one float32 input (batch, numeric columns) named after the model input;
                each categorical column: one string input (batch,) named after the column, one-hot encoded
                against its training categories by Equal (an unseen category is all zeros, as in nntrain)
    array       one float32 input (batch, *sample shape) of raw values (for data.inputs by column index, the
                chosen columns of x in their order)
    sequences,  the value after the pipeline's multi_hot step (float32 (batch, dimension), 0/1) or pad_sequences
    text        step (int32 (batch, maxlen) ids): tokenizing is not an ONNX operation
Then each fitted step as arithmetic: standardize/minmax Sub + Div, rescale Mul + Add, flatten, reshape, one_hot;
impute as IsNaN / Equal against the missing tokens + Where, its indicators as Cast (onnx_impute.py).

Outputs (one trained Output each, nntrain/runs/trained.py), named as `nntrain predict` names its columns
(`prediction`, or `<output>_prediction` when the model has several outputs):
    binary/multiclass  prediction: string (batch,) class names (ArgMax + Gather); probabilities: (batch, classes)
    multilabel         prediction: bool (batch, labels), a label is on over 0.5; probabilities: (batch, labels)
    regression         prediction: float64 (batch, ...) in the raw target's units, the target steps undone in
                       float64 as nntrain does (left in model units when a step cannot be undone)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from nntrain.errors import ConfigError
from nntrain.interop.onnx_graph import GraphBuilder
from nntrain.interop.onnx_impute import TableImpute, array_impute

SEQUENCE_STEPS = ("multi_hot", "pad_sequences")


@dataclass
class GraphInput:
    """One ONNX input, as the model's metadata describes it to a user."""

    name: str
    dtype: str
    shape: list
    feeds: str  # the data input it holds (data.inputs' name, "input" for one input; the model's without preprocessing)
    columns: list[str] = field(default_factory=list)  # the table columns it holds, in order
    categories: list[str] | None = None  # a categorical column's training categories
    x_columns: list[int] | None = None  # the columns of a catalogue x it holds (data.inputs by index), in order

    def describe(self) -> dict:
        info = {"name": self.name, "dtype": self.dtype, "shape": ["batch" if d is None else d for d in self.shape],
                "feeds": self.feeds}
        if self.columns:
            info["columns"] = self.columns
        if self.categories is not None:
            info["categories"] = self.categories
        if self.x_columns is not None:
            info["x_columns"] = self.x_columns
        return info


def _error(pipeline, what: str) -> ConfigError:
    return ConfigError(f"input {pipeline.name!r}: {what} has no ONNX form; export the network alone "
                       f"(--no-preprocessing; preprocessing=False in Python) and apply the preprocessing before it")


# --- inputs --------------------------------------------------------------------------------------------
def _table_impute(pipeline) -> TableImpute | None:
    steps = [s for s in pipeline.steps if s.registered_name == "impute"]
    if len(steps) > 1:
        raise _error(pipeline, "more than one impute step")
    return TableImpute(steps[0]) if steps else None


def _table_start(b: GraphBuilder, pipeline, inputs: list[GraphInput], taken: set[str]) -> str:
    """Graph inputs of a table's columns, encoded as ColumnEncoder.transform does: (batch, features) float32.

    With an impute step the user feeds the raw columns (NaN, or a missing token, where a value is missing): the
    numbers are filled first, and each indicator feature comes from its column's missing mask."""
    enc, impute = pipeline.encoder, _table_impute(pipeline)
    base_of = impute.base_of if impute is not None else {}  # indicator feature -> the column it flags
    numeric = [c for c in enc.columns if c not in enc.categories and c not in base_of]
    numbers = missing = None
    if numeric:
        numbers = b.add_input(pipeline.name, np.float32, [None, len(numeric)])
        inputs.append(GraphInput(pipeline.name, "float32", [None, len(numeric)], pipeline.name, numeric))
        if impute is not None:
            numbers, missing = impute.numbers(b, numbers, numeric, f"{pipeline.name}/impute")
    flags: dict[str, str] = {}  # categorical column -> its missing indicator (batch, 1), when imputed
    one_hot = {c: _one_hot_column(b, pipeline, c, inputs, taken, impute, flags)
               for c in enc.columns if c in enc.categories}

    def columns(source: str, first: str, count: int, hint: str) -> str:
        """`count` columns of a (batch, numeric) tensor from numeric column `first` on: all of it, or a slice."""
        if count == len(numeric):
            return source
        k = numeric.index(first)
        at = [b.const(name, np.asarray([v], np.int64)) for name, v in (("start", k), ("end", k + count), ("axis", 1))]
        return b.op("Slice", [source, *at], hint)

    def kind(column: str) -> str:
        return "categorical" if column in enc.categories else "indicator" if column in base_of else "numeric"

    parts = []
    for what, group in itertools.groupby(enc.columns, key=kind):
        group = list(group)
        if what == "categorical":
            parts += [one_hot[c] for c in group]
        elif what == "numeric":  # consecutive numeric columns: the whole numeric input, or one slice of it
            parts.append(columns(numbers, group[0], len(group), f"{pipeline.name}/columns"))
        else:
            for c in group:
                base = base_of[c]
                parts.append(flags[base] if base in flags else b.op(
                    "Cast", [columns(missing, base, 1, f"{pipeline.name}/{c}")], f"{pipeline.name}/{c}_f",
                    to=b.onnx.TensorProto.FLOAT))
    if not parts:
        raise _error(pipeline, "a table without columns")
    return parts[0] if len(parts) == 1 else b.op("Concat", parts, f"{pipeline.name}/features", axis=1)


def _one_hot_column(b: GraphBuilder, pipeline, column: str, inputs: list[GraphInput], taken: set[str],
                    impute: TableImpute | None = None, flags: dict | None = None) -> str:
    """A string input (batch,) -> (batch, categories) float32 0/1, by Equal against the training categories
    (after `impute` fills a missing value, its indicator kept in `flags`)."""
    categories = pipeline.encoder.categories[column]
    name = column if column not in taken else f"{pipeline.name}.{column}"
    taken.add(name)
    b.add_input(name, object, [None])
    inputs.append(GraphInput(name, "string", [None], pipeline.name, [column], list(categories)))
    col = b.op("Unsqueeze", [name, b.const("axes", np.asarray([1], np.int64))], f"{name}/column")
    if impute is not None:
        col, flags[column] = impute.text(b, name, col)
    hit = b.op("Equal", [col, b.const(f"{name}/categories", np.asarray(categories, dtype=object))], f"{name}/equal")
    return b.op("Cast", [hit], f"{name}/one_hot", to=b.onnx.TensorProto.FLOAT)


def _step(b: GraphBuilder, pipeline, step, x: str) -> str:
    """One fitted step applied to float32 `x`, computed as the step's transform computes it."""
    name, hint = step.registered_name, f"{pipeline.name}/{step.registered_name}"
    if name in ("standardize", "minmax"):  # (x - shift) / scale
        shifted = b.op("Sub", [x, b.const(f"{hint}/shift", step.shift)], f"{hint}/sub")
        return b.op("Div", [shifted, b.const(f"{hint}/scale", step.scale)], hint)
    if name == "rescale":  # x * scale + offset
        y = b.op("Mul", [x, b.const(f"{hint}/scale", np.float32(step.scale))], hint)
        return y if step.offset == 0 else b.op("Add", [y, b.const(f"{hint}/offset", np.float32(step.offset))], hint)
    if name == "flatten":
        return b.op("Flatten", [x], hint, axis=1)
    if name == "reshape":  # 0 keeps the batch size, so the step's own -1 can stay
        return b.op("Reshape", [x, b.const(f"{hint}/shape", np.asarray([0, *step.shape], np.int64))], hint)
    if name == "one_hot":  # class indices (batch,) or (batch, 1) -> (batch, classes)
        idx = b.op("Reshape", [x, b.const(f"{hint}/column", np.asarray([-1, 1], np.int64))], f"{hint}/idx")
        classes = np.arange(step.fitted_size, dtype=np.float32)
        hit = b.op("Equal", [idx, b.const(f"{hint}/classes", classes)], f"{hint}/equal")
        return b.op("Cast", [hit], hint, to=b.onnx.TensorProto.FLOAT)
    if name == "impute":  # an array input's columns (a table's are imputed before encoding: _table_start)
        return array_impute(b, step, x, hint)
    raise _error(pipeline, f"preprocessing step {name!r}")


def input_nodes(b: GraphBuilder, pipeline, model_input, model_dtype, inputs: list[GraphInput],
                taken: set[str]) -> str:
    """The graph inputs of one input pipeline and its steps; returns the tensor fed to `model_input`.

    Args:
        pipeline: the fitted InputPipeline. model_input: the engine Input layer it feeds.
        model_dtype: the model's float dtype (float inputs are cast to it, as Graph.as_input_list does).
        inputs: the GraphInputs so far, appended to. taken: names taken (graph inputs and outputs), added to.
    """
    steps, dtype = list(pipeline.steps), np.dtype(np.float32)
    seq_at = [i for i, s in enumerate(steps) if s.registered_name in SEQUENCE_STEPS]
    if seq_at:  # the graph starts after the last multi_hot / pad_sequences step
        last = steps[seq_at[-1]]
        dtype = np.dtype(np.int32 if last.registered_name == "pad_sequences" else np.float32)
        shape = [None, int(last.fitted_size)]
        x = b.add_input(pipeline.name, dtype, shape)
        inputs.append(GraphInput(pipeline.name, dtype.name, shape, pipeline.name))
        steps = steps[seq_at[-1] + 1:]
    elif pipeline.kind == "table":
        x = _table_start(b, pipeline, inputs, taken)
        steps = [s for s in steps if s.registered_name != "impute"]  # done on the columns, before encoding
    elif pipeline.kind == "array":
        shape = [None, *pipeline.source.get("sample_shape", model_input.shape)]
        x = b.add_input(pipeline.name, np.float32, shape)
        indices = pipeline.source.get("indices")
        inputs.append(GraphInput(pipeline.name, "float32", shape, pipeline.name, x_columns=indices))
    else:
        raise _error(pipeline, f"a {pipeline.kind} input without a multi_hot or pad_sequences step")
    taken.add(pipeline.name)
    for step in steps:
        x = _step(b, pipeline, step, x)
        dtype = np.dtype(np.float32)
    want = np.dtype(model_dtype if model_input.input_dtype.startswith("float") else model_input.input_dtype)
    if want != dtype:
        x = b.op("Cast", [x], f"{pipeline.name}/cast", to=b.onnx.helper.np_dtype_to_tensor_dtype(want))
    return x


# --- outputs -------------------------------------------------------------------------------------------
def _class_outputs(b: GraphBuilder, output, out: str, prefix: str) -> list[tuple]:
    """Probabilities and class names of a binary/multiclass output, as runs.trained.decode_classes finds them."""
    if output.width == 1:  # one sigmoid unit p: the two classes [1 - p, p]
        p = b.op("Sigmoid", [out], f"{prefix}sigmoid") if output.logits else out
        p = b.op("Reshape", [p, b.const(f"{prefix}column", np.asarray([-1, 1], np.int64))], f"{prefix}p")
        one = b.const(f"{prefix}one", np.ones((), dtype=b.model_dtype))
        probs = b.op("Concat", [b.op("Sub", [one, p], f"{prefix}q"), p], f"{prefix}probs", axis=1)
    else:
        probs = b.op("Softmax", [out], f"{prefix}softmax", axis=-1) if output.logits else out
    index = b.op("ArgMax", [probs], f"{prefix}index", axis=1, keepdims=0)
    names = b.const(f"{prefix}classes", np.asarray(output.classes, dtype=object))
    label = b.op("Gather", [names, index], f"{prefix}label", axis=0)
    k = len(output.classes)
    return [(label, "prediction", object, [None]), (probs, "probabilities", None, [None, k])]


def _value_outputs(b: GraphBuilder, output, out: str, prefix: str, shape: tuple) -> list[tuple]:
    """Regression values back in the raw target's units (float64), as OutputPipeline.inverse_transform does."""
    steps = output.pipeline.steps
    if not all(step.invertible for step in steps):
        return [(out, "prediction", None, [None, *shape])]
    v = b.op("Cast", [out], f"{prefix}values", to=b.onnx.TensorProto.DOUBLE)
    for step in reversed(steps):
        hint = f"{prefix}{step.registered_name}_undone"
        if step.registered_name == "rescale":  # (y - offset) / scale
            v = b.op("Sub", [v, b.const(f"{hint}/offset", np.float64(step.offset))], hint)
            v = b.op("Div", [v, b.const(f"{hint}/scale", np.float64(step.scale))], hint)
        elif step.registered_name in ("standardize", "minmax"):  # y * scale + shift
            v = b.op("Mul", [v, b.const(f"{hint}/scale", step.scale.astype(np.float64))], hint)
            v = b.op("Add", [v, b.const(f"{hint}/shift", step.shift.astype(np.float64))], hint)
        else:
            raise ConfigError(f"output {output.name!r}: target step {step.registered_name!r} has no ONNX form; "
                              f"export the network alone (--no-preprocessing; preprocessing=False in Python)")
    return [(v, "prediction", np.float64, [None, *shape])]


def output_nodes(b: GraphBuilder, output, out: str, prefix: str, shape: tuple) -> list[tuple]:
    """The decoded outputs of one model output tensor `out`.

    Returns:
        (tensor, graph output name without `prefix`, dtype or None for the model's, shape) per graph output.
    """
    if output.task in ("binary", "multiclass"):
        return _class_outputs(b, output, out, prefix)
    if output.task == "multilabel":
        probs = b.op("Sigmoid", [out], f"{prefix}sigmoid") if output.logits else out
        half = b.const(f"{prefix}half", np.asarray(0.5, dtype=b.model_dtype))
        on = b.op("Greater", [probs, half], f"{prefix}on")
        return [(on, "prediction", np.bool_, [None, *shape]), (probs, "probabilities", None, [None, *shape])]
    return _value_outputs(b, output, out, prefix, shape)
