"""`nntrain predict`: new raw inputs -> classes or values, with a trained run.

    result = predict("runs/iris", "new.csv", output="out.csv", proba=True)
    predict("runs/iris", "new.csv", output="-", fmt="jsonl", keep=["id"])    # to stdout, carrying the id column

Inputs are read in chunks (nntrain.data.read_inputs) and the output written as they come, so memory stays constant
in the input size. The preprocessing fitted in training (stored in the checkpoint) is applied to the raw values.
Where the predictions go is the caller's choice, never the row count's: a file, stdout ("-"), or (output None) rows
kept for a table.
"""

from __future__ import annotations

import sys
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain.commands.writers import NpyWriter, TextWriter
from nntrain.errors import DataError
from nntrain.runs.folder import storage_error
from nntrain.runs.trained import CLASS_TASKS, Decoded, Output, Trained, decode, load_trained, require_training

CHUNK_ROWS = 1024
FORMATS = ("csv", "jsonl", "npy")


class _Columns:
    """Turns one chunk of model outputs into CSV-style rows, one output after another."""

    def __init__(self, outputs: list[Output], proba: bool, top_k: int | None):
        self.outputs, self.proba, self.top_k = outputs, proba, top_k
        self.prefixes = [""] if len(outputs) == 1 else [f"{o.name}_" for o in outputs]
        for o in outputs:
            if top_k is not None and o.task in CLASS_TASKS and not 1 <= top_k <= len(o.classes):
                raise DataError(f"--top-k expects 1..{len(o.classes)} (the number of classes of output "
                                f"{o.name!r}), got {top_k}")
        if top_k is not None and not any(o.task in CLASS_TASKS for o in outputs):
            raise DataError("--top-k needs a classification model; this one predicts values (regression)")
        if proba and all(o.classes is None for o in outputs):
            raise DataError("--proba needs a model that predicts classes or labels; this one predicts values "
                            "(regression)")

    def header(self, keep: list[str]) -> list[str]:
        cols = ["row", *keep]
        for o, p in zip(self.outputs, self.prefixes):
            if o.classes is not None:
                cols.append(f"{p}prediction")
                if self.proba:
                    cols += [f"{p}p_{c}" for c in o.classes]
                if self.top_k is not None and o.task in CLASS_TASKS:
                    for i in range(1, self.top_k + 1):
                        cols += [f"{p}top{i}", f"{p}top{i}_p"]
            else:
                cols += [f"{p}prediction"] if o.width == 1 else [f"{p}prediction_{j}" for j in range(o.width)]
        return cols

    def _top(self, d: Decoded) -> np.ndarray:
        """(rows, top_k) class indices, most likely first (ties: the lower index first)."""
        return np.argsort(-d.probs, axis=1, kind="stable")[:, :self.top_k]

    def rows(self, start: int, outs: list[np.ndarray], kept: list[list] | None = None) -> list[list]:
        """One list per row: its number, the kept input values, then each output's columns."""
        table = [[start + i, *(kept[i] if kept else ())] for i in range(len(outs[0]))]
        for o, out in zip(self.outputs, outs):
            d = decode(o, out)
            top = self._top(d) if self.top_k is not None and o.task in CLASS_TASKS else None
            values = d.values.reshape(len(d.values), -1) if d.values is not None else None
            for i, row in enumerate(table):
                if o.task in CLASS_TASKS:
                    row.append(o.classes[d.index[i]])
                elif o.task == "multilabel":
                    row.append(";".join(c for c, on in zip(o.classes, d.on[i]) if on))
                else:
                    row += [float(v) for v in values[i]]
                    continue
                if self.proba:
                    row += [float(v) for v in d.probs[i]]
                if top is not None:
                    for j in top[i]:
                        row += [o.classes[j], float(d.probs[i, j])]
        return table

    def npy_array(self, outs: list[np.ndarray]) -> np.ndarray:
        """What an .npy output holds: probabilities (--proba), top-k class indices (--top-k), else class indices
        or values."""
        if len(self.outputs) != 1:
            raise DataError(f"an .npy file holds one array but this model has {len(self.outputs)} outputs; "
                            f"write csv or jsonl instead")
        d = decode(self.outputs[0], outs[0])
        if d.index is not None:
            if self.proba:
                return d.probs.astype(np.float32)
            if self.top_k is not None:
                return self._top(d).astype(np.int64)
            return d.index.astype(np.int64)
        if d.on is not None:
            return (d.probs if self.proba else d.on).astype(np.float32)
        v = d.values.reshape(len(d.values), -1)
        return (v[:, 0] if v.shape[1] == 1 else v).astype(np.float32)


@dataclass
class PredictionResult:
    """What `predict` did.

    Attributes:
        rows: number of inputs predicted.
        output: the file written, "-" (stdout), or None when the predictions are in `table`.
        format: csv, jsonl or npy.
        columns: the CSV columns (also the table's and the JSON Lines keys).
        table: the rows when no output was asked for, else None.
        checkpoint: the checkpoint file used; note: why it differs from the one asked for.
        skipped: blank lines of a text input, which get no prediction.
    """

    rows: int
    output: Path | str | None
    format: str
    columns: list[str]
    table: list[list] | None = None
    checkpoint: Path | None = None
    note: str = ""
    skipped: int = 0

    def summary(self) -> dict:
        """What `nntrain predict --json` prints."""
        return {"rows": self.rows, "output": None if self.output is None else str(self.output),
                "format": self.format, "columns": self.columns, "checkpoint": str(self.checkpoint),
                "note": self.note, "skipped_blank_lines": self.skipped}


def _expected_inputs(pre) -> str:
    parts = []
    for name, p in pre.inputs.items():
        cols = p.source.get("columns")
        if cols is not None:
            parts.append(f"{len(cols)} feature columns {list(cols)}" if len(pre.inputs) == 1
                         else f"input {name!r}: columns {list(cols)}")
        elif p.kind == "text":
            parts.append("text, one document per line (.txt)")
        elif p.source.get("type") == "key":
            parts.append(f"input {name!r}: array {p.source['key']!r}")
        else:
            parts.append(f"input {name!r}: samples of shape {tuple(p.source.get('sample_shape', ()))}")
    return "; ".join(parts)


def output_format(output, fmt: str | None) -> str:
    """csv, jsonl or npy: `fmt` when given, else from the output file's name, else csv."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise DataError(f"--format expects one of {', '.join(FORMATS)}, got {fmt!r}")
        return fmt
    if output in (None, "-"):
        return "csv"
    for known in FORMATS:
        if Path(output).name.lower().endswith(f".{known}"):
            return known
    raise DataError(f"{output}: the output must be a .csv, .jsonl or .npy file (or give --format)")


def _model_inputs(trained: Trained, input_path: Path, chunk_rows: int):
    """read_inputs chunks as the model's input lists; an input that does not fit names what the model expects."""
    from nntrain.data import read_inputs
    from nntrain.errors import ShapeError

    model, pre = trained.model, trained.preprocessor
    expects = f"the model ({trained.checkpoint_path}) expects {_expected_inputs(pre)}"
    chunks = read_inputs(input_path, pre, chunk_rows)
    while True:
        try:
            x = next(chunks)
        except StopIteration:
            return
        except DataError as exc:
            raise DataError(f"{exc}. {expects[0].upper()}{expects[1:]}") from None
        xs = model.as_input_list(x)
        try:
            model.check_data(xs, None, str(input_path))
        except ShapeError as exc:
            raise DataError(f"{exc}; {expects}") from None
        yield xs


def _kept_values(input_path: Path, keep: list[str], chunk_rows: int):
    """The --keep columns of a CSV/TSV input as string rows, chunk by chunk as read_inputs reads the file (blank
    lines skipped alike), so they line up with the predictions."""
    from nntrain.data.formats import format_of
    from nntrain.data.formats.delimited import Delimited
    from nntrain.data.tables import read_header, stream_table
    from nntrain.registry import did_you_mean

    fmt = format_of(input_path)
    if not isinstance(fmt, Delimited):
        raise DataError(f"--keep carries columns of a .csv or .tsv input into the output; {input_path} is "
                        f"{fmt.name} data without named columns")
    header = read_header(input_path, fmt.delimiter)
    for name in keep:
        if name not in header:
            raise DataError(f"--keep {name!r}: {input_path} has no such column{did_you_mean(name, header)}; its "
                            f"columns: {', '.join(header)}")

    def chunks():
        for chunk in stream_table(input_path, keep, {c: "categorical" for c in keep}, chunk_rows, fmt.delimiter):
            # a missing value is kept as the empty text it most often was
            yield [["" if v is None else v for v in values] for values in zip(*(chunk.columns[c] for c in keep))]

    return chunks()


class _Sink:
    """Where predictions go: a CSV / JSON Lines / NPY file or stdout ("-"), or (output None) rows kept for a
    table. A file is opened at the first chunk, so an input rejected at once leaves nothing behind."""

    def __init__(self, output, fmt: str, columns: _Columns, header: list[str], stdout):
        self.output, self.fmt, self.columns, self.header, self.stdout = output, fmt, columns, header, stdout
        self.table: list[list] | None = [] if output is None else None
        self.writer = None

    def _open(self) -> None:
        to_stdout = self.output == "-"
        if self.fmt == "npy":
            self.writer = NpyWriter(getattr(self.stdout, "buffer", self.stdout) if to_stdout else self.output)
            return
        try:
            fp = self.stdout if to_stdout else open(self.output, "w", newline="", encoding="utf-8")
        except OSError as exc:
            raise storage_error(exc, self.output) from None
        self.writer = TextWriter(fp, self.header, self.fmt, owned=not to_stdout)

    def add(self, start: int, outs: list[np.ndarray], kept: list[list] | None) -> None:
        try:
            self._add(start, outs, kept)
        except OSError as exc:  # the output cannot be written: no such folder, a full disk, no permission
            raise self._failed(exc) from None

    def _add(self, start: int, outs: list[np.ndarray], kept: list[list] | None) -> None:
        if self.fmt == "npy":
            if self.writer is None:
                self._open()
            self.writer.write(self.columns.npy_array(outs))
            return
        rows = self.columns.rows(start, outs, kept)
        if self.table is not None:
            self.table += rows
            return
        if self.writer is None:
            self._open()
        self.writer.write(rows)

    def close(self) -> None:
        try:
            if self.table is None and self.writer is None:  # an empty input still gets its (empty) output
                self._open()
            if self.writer is not None:
                self.writer.close()
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> Exception:
        """The error of a write that failed; the part of the output written is removed (it would look whole)."""
        with suppress(OSError):
            self.abort()
            if self.writer is not None and self.output not in (None, "-"):
                Path(self.output).unlink(missing_ok=True)
        return storage_error(exc, self.output)

    def abort(self) -> None:
        if isinstance(self.writer, NpyWriter):
            self.writer.abort()
        elif self.writer is not None:
            self.writer.close()


def _check_options(fmt: str, keep: list[str], proba: bool, top_k: int | None) -> None:
    """Options that cannot apply together are errors, before anything is read."""
    if top_k is not None and top_k < 1:
        raise DataError(f"--top-k expects a positive number of classes, got {top_k}")
    if fmt == "npy" and keep:
        raise DataError("--keep adds columns, which an .npy array cannot hold; write csv or jsonl")
    if fmt == "npy" and proba and top_k is not None:
        raise DataError("an .npy output holds one array: give --proba (probabilities) or --top-k (class indices), "
                        "not both")


def _blank_lines(input_path: Path, predicted: int) -> int:
    """How many lines of a text input were blank (and got no prediction)."""
    if not input_path.name.lower().endswith(".txt"):
        return 0
    with open(input_path, encoding="utf-8", errors="replace") as fp:
        return sum(1 for _ in fp) - predicted


def predict(target, input_path, output=None, fmt: str | None = None, keep=(), proba: bool = False,
            top_k: int | None = None, checkpoint: str = "best", chunk_rows: int = CHUNK_ROWS,
            stdout=None) -> PredictionResult:
    """Predict every row of `input_path` with a trained run, streaming chunk by chunk.

    Args:
        target: a run folder or a checkpoint file.
        input_path: .csv/.tsv (the training feature columns by name; others ignored), .npy, .npz, .h5 or .txt lines
            (blank lines skipped).
        output: a file, "-" for `stdout`, or None to get the rows back in `table`.
        fmt: csv (row, the kept columns, prediction, p_<class> with proba, top<i>/top<i>_p with top_k), jsonl (the
            same as one JSON object per row) or npy (see `_Columns.npy_array`); default: the output's suffix, else csv.
        keep: columns of a CSV/TSV input carried into the output (an id), after `row`.
        proba: add one probability column per class. top_k: add the k most likely classes.
        chunk_rows: rows read, predicted and written at a time (memory is constant in the input size).

    Raises:
        DataError: an input that does not fit the model (columns, feature count, sample shape) naming what was
            expected; an option that does not apply (--proba or --top-k for regression, --keep without columns);
            CheckpointError: see `load_trained`.
    """
    input_path = Path(input_path)
    output = output if output in (None, "-") else Path(output)
    fmt, keep = output_format(output, fmt), list(dict.fromkeys(keep))
    _check_options(fmt, keep, proba, top_k)
    trained = load_trained(target, checkpoint)
    require_training(trained)
    if not input_path.is_file():
        raise DataError(f"{input_path}: {'is a folder, not a file' if input_path.is_dir() else 'not found'}")
    columns = _Columns(trained.outputs, proba, top_k)
    kept = _kept_values(input_path, keep, chunk_rows) if keep else None
    header = columns.header(keep)
    clash = [c for c in keep if header.count(c) > 1]
    if clash:
        raise DataError(f"--keep {clash[0]!r} has the name of an output column; rename it in the input")
    sink = _Sink(output, fmt, columns, header, stdout if stdout is not None else sys.stdout)
    n = 0
    try:
        for xs in _model_inputs(trained, input_path, chunk_rows):
            outs = trained.model.predict_on_batch(xs)  # one array per model output
            sink.add(n, outs, next(kept) if kept is not None else None)
            n += len(outs[0])
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return PredictionResult(n, output, fmt, header, sink.table, trained.checkpoint_path, trained.note,
                            _blank_lines(input_path, n))


def predict_rows(trained: Trained, rows) -> list[Decoded]:
    """Rows already in memory (a DataFrame, a dict of columns, an array of raw values, documents) predicted with
    the run's stored preprocessing, as `predict` does for the same values in a file; one Decoded per model output.

    Raises:
        DataError: rows that do not fit the model (see nntrain.data.memory.raw_inputs), naming what it expects.
    """
    from nntrain.data.memory import WHERE, raw_inputs
    from nntrain.errors import ShapeError

    pre, model = trained.preprocessor, trained.model
    xs = model.as_input_list(pre.transform_x(raw_inputs(pre, rows)))
    try:
        model.check_data(xs, None, WHERE)
    except ShapeError as exc:
        raise DataError(f"{exc}; the model expects {_expected_inputs(pre)}") from None
    outs = model.predict_on_batch(xs)
    return [decode(o, out) for o, out in zip(trained.outputs, outs)]
