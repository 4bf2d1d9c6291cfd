"""`nntrain predict`: new raw inputs -> classes or values, with a trained run.

    result = predict("runs/iris", "new.csv", output="out.csv", proba=True)

Inputs are read in chunks (nntrain.data.read_inputs) and the output written as they come, so memory stays constant
in the input size. The preprocessing fitted in training (stored in the checkpoint) is applied to the raw values.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain.errors import DataError
from nntrain.runs.folder import storage_error
from nntrain.runs.trained import CLASS_TASKS, Decoded, Output, Trained, decode, load_trained

CHUNK_ROWS = 1024
TABLE_ROWS = 50  # at most this many predictions print as a table when no --output is given


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

    def header(self) -> list[str]:
        cols = ["row"]
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

    def rows(self, start: int, outs: list[np.ndarray]) -> list[list]:
        table = [[start + i] for i in range(len(outs[0]))]
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
                            f"write a .csv instead")
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


class _CsvWriter:
    def __init__(self, path: Path):
        self.path = path
        self.fp = open(path, "w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.fp, lineterminator="\n")

    def write(self, header: list[str] | None, rows: list[list]) -> None:
        if header is not None:
            self.writer.writerow(header)
        self.writer.writerows([[repr(v) if isinstance(v, float) else v for v in row] for row in rows])

    def close(self) -> None:
        self.fp.close()


class _NpyWriter:
    """An .npy file written chunk by chunk: the data goes to a temporary file first, since the header needs the
    total row count, then header and data are joined with a constant-size copy buffer."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = tempfile.NamedTemporaryFile("wb", delete=False, dir=path.parent, prefix=f".{path.name}.")
        self.rows, self.dtype, self.shape = 0, None, None

    def write(self, array: np.ndarray) -> None:
        if self.dtype is None:
            self.dtype, self.shape = array.dtype, array.shape[1:]
        self.tmp.write(np.ascontiguousarray(array, self.dtype).tobytes())
        self.rows += len(array)

    def close(self) -> None:
        self.tmp.close()
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(self.dtype or np.float32)),
                  "fortran_order": False, "shape": (self.rows, *(self.shape or ()))}
        with open(self.path, "wb") as out, open(self.tmp.name, "rb") as src:
            np.lib.format.write_array_header_1_0(out, header)
            shutil.copyfileobj(src, out, 1 << 20)
        os.unlink(self.tmp.name)

    def abort(self) -> None:
        self.tmp.close()
        if os.path.exists(self.tmp.name):
            os.unlink(self.tmp.name)


@dataclass
class PredictionResult:
    """What `predict` did.

    Attributes:
        rows: number of inputs predicted.
        output: the file written, or None when the predictions are in `table`.
        columns: the CSV columns (also the table's).
        table: the rows when they were few and no output was asked for, else None.
        checkpoint: the checkpoint file used; note: why it differs from the one asked for.
        defaulted_output: `output` was chosen by predict (too many rows for a table), not given.
    """

    rows: int
    output: Path | None
    columns: list[str]
    table: list[list] | None = None
    checkpoint: Path | None = None
    note: str = ""
    defaulted_output: bool = False


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


def _default_output(input_path: Path) -> Path:
    """<input>-predictions.csv, or -predictions-2.csv, -3... so an earlier file is never overwritten."""
    stem = input_path.name.split(".")[0]
    path, n = input_path.with_name(f"{stem}-predictions.csv"), 1
    while path.exists():
        n += 1
        path = input_path.with_name(f"{stem}-predictions-{n}.csv")
    return path


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


class _Sink:
    """Where predictions go: kept for a table (no output asked for, few rows), or a CSV / NPY file. Without an
    output, the rows move to <input>-predictions.csv as soon as they are too many for a table."""

    def __init__(self, output: Path | None, input_path: Path, columns: _Columns, header: list[str]):
        self.output, self.input_path, self.columns, self.header = output, input_path, columns, header
        self.npy = output is not None and output.name.lower().endswith(".npy")
        self.table: list[list] = []
        self.writer = None
        self.defaulted = False

    def add(self, start: int, outs: list[np.ndarray]) -> None:
        try:
            self._add(start, outs)
        except OSError as exc:  # the output cannot be written: no such folder, a full disk, no permission
            raise self._failed(exc) from None

    def _add(self, start: int, outs: list[np.ndarray]) -> None:
        if self.npy:
            if self.writer is None:
                self.writer = _NpyWriter(self.output)
            self.writer.write(self.columns.npy_array(outs))
            return
        rows = self.columns.rows(start, outs)
        if self.writer is None and self.output is None and len(self.table) + len(rows) <= TABLE_ROWS:
            self.table += rows
            return
        if self.writer is None:
            self._open_csv()
        self.writer.write(None, rows)

    def _open_csv(self) -> None:
        if self.output is None:
            self.output, self.defaulted = _default_output(self.input_path), True
        try:
            self.writer = _CsvWriter(self.output)
        except OSError as exc:
            raise DataError(f"cannot write {self.output} ({exc.strerror}); give --output FILE") from None
        self.writer.write(self.header, self.table)
        self.table = []

    def close(self) -> None:
        try:
            self._close()
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> Exception:
        """The error of a write that failed; the part of the output written is removed (it would look whole)."""
        with suppress(OSError):
            self.abort()
            if self.writer is not None and self.output is not None:
                self.output.unlink(missing_ok=True)
        return storage_error(exc, self.output)

    def _close(self) -> None:
        if self.output is not None and self.writer is None:  # an empty input still gets its (empty) output file
            if self.npy:
                np.save(self.output, np.zeros((0,), np.float32))
                return
            self._open_csv()
        if self.writer is not None:
            self.writer.close()

    def abort(self) -> None:
        if isinstance(self.writer, _NpyWriter):
            self.writer.abort()
        elif self.writer is not None:
            self.writer.close()


def predict(target, input_path, output=None, proba: bool = False, top_k: int | None = None,
            checkpoint: str = "best", chunk_rows: int = CHUNK_ROWS) -> PredictionResult:
    """Predict every row of `input_path` with a trained run, streaming chunk by chunk.

    Args:
        target: a run folder or a checkpoint file.
        input_path: .csv (the training feature columns by name; others ignored), .npy, .npz, .h5 or .txt lines.
        output: .csv (row, prediction, p_<class> with proba, top<i>/top<i>_p with top_k) or .npy (see
            `_Columns.npy_array`); None: a table when at most TABLE_ROWS rows, else <input>-predictions.csv
            beside the input.
        proba: add one probability column per class. top_k: add the k most likely classes.
        chunk_rows: rows read, predicted and written at a time (memory is constant in the input size).

    Raises:
        DataError: an input that does not fit the model (columns, feature count, sample shape) naming what was
            expected; CheckpointError: see `load_trained`.
    """
    input_path = Path(input_path)
    output = Path(output) if output is not None else None
    if output is not None and not output.name.lower().endswith((".csv", ".npy")):
        raise DataError(f"{output}: the output must be a .csv or .npy file")
    if top_k is not None and top_k < 1:
        raise DataError(f"--top-k expects a positive number of classes, got {top_k}")
    trained = load_trained(target, checkpoint)
    if not input_path.is_file():
        raise DataError(f"{input_path}: {'is a folder, not a file' if input_path.is_dir() else 'not found'}")
    model = trained.model
    columns = _Columns(trained.outputs, proba, top_k)
    header = columns.header()
    sink = _Sink(output, input_path, columns, header)
    n = 0
    try:
        for xs in _model_inputs(trained, input_path, chunk_rows):
            outs = model.predict_on_batch(xs)  # one array per model output
            sink.add(n, outs)
            n += len(outs[0])
        sink.close()
    except BaseException:
        sink.abort()
        raise
    table = sink.table if sink.output is None else None
    return PredictionResult(n, sink.output, header, table, trained.checkpoint_path, trained.note, sink.defaulted)
