"""A trained model back from a run folder or checkpoint, and `nntrain predict`: new raw inputs -> classes or values.

    trained = load_trained("runs/iris")            # best.h5 (last.h5 when the run had no validation set)
    result = predict("runs/iris", "new.csv", output="out.csv", proba=True)

Inputs are read in chunks (nntrain.data.read_inputs) and the output written as they come, so memory stays constant
in the input size. The preprocessing fitted in training (stored in the checkpoint) is applied to the raw values.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain.errors import CheckpointError, DataError

CHECKPOINTS = ("best", "last")
CLASS_TASKS = ("binary", "multiclass")
CHUNK_ROWS = 1024
TABLE_ROWS = 50  # at most this many predictions print as a table when no --output is given


@dataclass
class Trained:
    """A compiled model with its fitted preprocessing, and where it came from.

    Attributes:
        model: the engine Model, compiled with the run's loss and metrics.
        preprocessor: the Preprocessor fitted in training.
        config: the run's resolved config (data paths absolute).
        checkpoint: the loaded Checkpoint; checkpoint_path its file; which: "best", "last" or the file's stem.
        run_dir: the run folder, or None for a checkpoint file outside one.
        base_dir: where the run's relative data paths point.
        note: why another checkpoint than the one asked for was used, or "".
        kind: run.json's kind ("kfold-fold", "kfold-refit"), or "run".
    """

    model: object
    preprocessor: object
    config: dict
    checkpoint: object
    checkpoint_path: Path
    which: str
    run_dir: Path | None
    base_dir: Path
    note: str = ""
    kind: str = "run"

    @property
    def output_names(self) -> list[str]:
        """The preprocessor's output names, in the model's output order."""
        return list(self.preprocessor.outputs)


def _run_folder_of(path: Path) -> Path | None:
    """runs/NAME for runs/NAME/checkpoints/X.h5, else None."""
    folder = path.resolve().parent
    if folder.name == "checkpoints" and (folder.parent / "config.yaml").exists():
        return folder.parent
    return None


def find_checkpoint(target, which: str = "best") -> tuple[Path, Path | None, str, str]:
    """(checkpoint file, run folder or None, "best"/"last"/stem, note) for a run folder or a checkpoint file.

    A run folder gives checkpoints/<which>.h5; "best" falls back to last.h5 when the run had no validation set.
    """
    path = Path(target)
    if which not in CHECKPOINTS:
        raise CheckpointError(f"--checkpoint expects one of {', '.join(CHECKPOINTS)}, got {which!r}")
    if not path.exists():
        raise CheckpointError(f"{path}: no such run folder or checkpoint file; give a folder `nntrain fit` made "
                              f"(e.g. runs/NAME) or a checkpoint (.h5)")
    if path.is_file():
        return path, _run_folder_of(path), path.stem, ""
    if (path / "kfold.json").exists():
        raise CheckpointError(f"{path} is a k-fold folder; give one of its runs: {path / 'fold-1'}"
                              + (f" or {path / 'refit'}" if (path / "refit").exists() else ""))
    folder = path / "checkpoints"
    if not (path / "config.yaml").exists() or not folder.is_dir():
        raise CheckpointError(f"{path}: not a run folder (no config.yaml and checkpoints/); give a folder "
                              f"`nntrain fit` made, e.g. runs/NAME, or a checkpoint file")
    chosen = folder / f"{which}.h5"
    if chosen.exists():
        return chosen, path, which, ""
    last = folder / "last.h5"
    if which == "best" and last.exists():
        return last, path, "last", "no best.h5 (the run had no validation set): used last.h5"
    raise CheckpointError(f"{path}: no checkpoint {chosen.name} in {folder}")


def compile_from_config(model, config: dict, where: Path) -> None:
    """Attach the run's loss, optimizer and metrics, so evaluation computes exactly what training logged."""
    from nntrain.errors import NNTrainError

    try:
        model.compile(loss=config["loss"], optimizer=dict(config["optimizer"]), metrics=config["metrics"],
                      loss_weights=config.get("loss_weights"))
    except (KeyError, NNTrainError) as exc:
        raise CheckpointError(f"{where}: cannot rebuild the training setup from the stored config ({exc})") from None


def load_trained(target, which: str = "best") -> Trained:
    """The model, preprocessing and config of a run folder or checkpoint file, ready to predict and evaluate.

    Raises:
        CheckpointError: no such folder/file, not a run folder, a checkpoint without config or preprocessing.
    """
    from nntrain import runs
    from nntrain.runs.checkpoint import load, model_from_checkpoint
    from nntrain.data import Preprocessor

    path, run_dir, used, note = find_checkpoint(target, which)
    ckpt = load(path)
    config = ckpt.run_config
    if config is None and run_dir is not None:
        import yaml

        config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    if not config:
        raise CheckpointError(f"{path}: the checkpoint holds no run config; was it written by `nntrain fit`?")
    if not ckpt.preprocessing:
        raise CheckpointError(f"{path}: the checkpoint holds no preprocessing state; was it written by `nntrain fit`?")
    try:
        model = model_from_checkpoint(ckpt, seed=int(config.get("seed") or 0))
    except Exception as exc:  # a config this nntrain cannot rebuild: name the file, not a traceback
        raise CheckpointError(f"{path}: cannot rebuild the model ({exc})") from None
    compile_from_config(model, config, path)
    base_dir = run_dir if run_dir is not None else path.parent
    info_path = run_dir / "run.json" if run_dir is not None else None
    info = runs.read_json(info_path) if info_path is not None and info_path.exists() else {}
    base_dir = Path(info.get("config_dir") or base_dir)
    pre = Preprocessor.from_state(ckpt.preprocessing)
    return Trained(model, pre, config, ckpt, path, used, run_dir, base_dir, note, str(info.get("kind") or "run"))


# --- from model outputs to classes and values ------------------------------------------------------------
def from_logits(config: dict, output: str, single: bool) -> bool:
    """Whether the loss of `output` was computed from logits (so the model emits logits, not probabilities)."""
    loss = config.get("loss")
    if isinstance(loss, dict) and "name" not in loss:
        loss = loss.get(output) if not single else next(iter(loss.values()), None)
    return bool(isinstance(loss, dict) and loss.get("from_logits"))


def class_probabilities(out: np.ndarray, logits: bool = False) -> np.ndarray:
    """(rows, classes) probabilities from a model output: (rows, k) softmax or (rows,)/(rows, 1) sigmoid.

    A single sigmoid unit p gives the two columns [1 - p, p].
    """
    out = np.asarray(out, np.float64)
    if out.ndim == 1 or out.shape[-1] == 1:
        p = out.reshape(len(out))
        if logits:
            p = 1.0 / (1.0 + np.exp(-p))
        return np.stack([1.0 - p, p], axis=1)
    if logits:
        z = np.exp(out - out.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)
    return out


def invert_target(pipeline, values: np.ndarray) -> np.ndarray | None:
    """Model-space regression outputs back in the units of the raw target, undoing the target steps
    (standardize, minmax, rescale); None when a step cannot be undone."""
    v = np.asarray(values, np.float64)
    for step in reversed(pipeline.steps):
        if getattr(step, "shift", None) is not None and getattr(step, "scale", None) is not None:
            v = v * np.asarray(step.scale, np.float64) + np.asarray(step.shift, np.float64)
        elif step.registered_name == "rescale":
            v = (v - step.offset) / step.scale
        else:
            return None
    return v


# --- writing predictions ---------------------------------------------------------------------------------
class _Columns:
    """Turns one chunk of model outputs into CSV-style rows, one output after another."""

    def __init__(self, trained: Trained, proba: bool, top_k: int | None):
        self.trained, self.proba, self.top_k = trained, proba, top_k
        pre = trained.preprocessor
        self.single = len(pre.outputs) == 1
        self.specs = []
        for name, pipe in pre.outputs.items():
            enc = pipe.encoder
            prefix = "" if self.single else f"{name}_"
            spec = {"name": name, "task": enc.task, "prefix": prefix, "pipeline": pipe,
                    "logits": from_logits(trained.config, name, self.single)}
            if enc.task in CLASS_TASKS or enc.task == "multilabel":
                k = enc.n_classes or pipe.width
                if enc.task == "multilabel":
                    k = pipe.width
                spec["classes"] = list(enc.class_names or [str(i) for i in range(k)])
                if top_k is not None and enc.task in CLASS_TASKS and not 1 <= top_k <= len(spec["classes"]):
                    raise DataError(f"--top-k expects 1..{len(spec['classes'])} (the number of classes of output "
                                    f"{name!r}), got {top_k}")
            self.specs.append(spec)
        if top_k is not None and not any(s["task"] in CLASS_TASKS for s in self.specs):
            raise DataError("--top-k needs a classification model; this one predicts values (regression)")

    def header(self, widths: list[int]) -> list[str]:
        cols = ["row"]
        for spec, width in zip(self.specs, widths):
            p = spec["prefix"]
            if "classes" in spec:
                cols.append(f"{p}prediction")
                if self.proba:
                    cols += [f"{p}p_{c}" for c in spec["classes"]]
                if self.top_k is not None and spec["task"] in CLASS_TASKS:
                    for i in range(1, self.top_k + 1):
                        cols += [f"{p}top{i}", f"{p}top{i}_p"]
            else:
                cols += [f"{p}prediction"] if width == 1 else [f"{p}prediction_{j}" for j in range(width)]
        return cols

    def arrays(self, outs: list[np.ndarray]) -> list[dict]:
        """Per output: the predicted class indices or values, probabilities and top-k, as arrays."""
        result = []
        for spec, out in zip(self.specs, outs):
            if spec["task"] in CLASS_TASKS:
                probs = class_probabilities(out, spec["logits"])
                order = np.argsort(-probs, axis=1, kind="stable")
                result.append({"index": probs.argmax(axis=1), "probs": probs, "order": order})
            elif spec["task"] == "multilabel":
                p = np.asarray(out, np.float64)
                probs = 1.0 / (1.0 + np.exp(-p)) if spec["logits"] else p
                result.append({"labels": probs > 0.5, "probs": probs})
            else:
                values = np.asarray(out, np.float64).reshape(len(out), -1)
                raw = invert_target(spec["pipeline"], values)
                result.append({"values": raw if raw is not None else values})
        return result

    def rows(self, start: int, outs: list[np.ndarray]) -> list[list]:
        parts = self.arrays(outs)
        n = len(outs[0])
        table = [[start + i] for i in range(n)]
        for spec, part in zip(self.specs, parts):
            for i, row in enumerate(table):
                if spec["task"] in CLASS_TASKS:
                    row.append(spec["classes"][part["index"][i]])
                    if self.proba:
                        row += [float(v) for v in part["probs"][i]]
                    if self.top_k is not None:
                        for j in part["order"][i, :self.top_k]:
                            row += [spec["classes"][j], float(part["probs"][i, j])]
                elif spec["task"] == "multilabel":
                    row.append(";".join(c for c, on in zip(spec["classes"], part["labels"][i]) if on))
                    if self.proba:
                        row += [float(v) for v in part["probs"][i]]
                else:
                    row += [float(v) for v in part["values"][i]]
        return table

    def npy_array(self, outs: list[np.ndarray]) -> np.ndarray:
        """What an .npy output holds: probabilities (--proba), top-k class indices (--top-k), else class indices
        or values."""
        if len(self.specs) != 1:
            raise DataError(f"an .npy file holds one array but this model has {len(self.specs)} outputs; "
                            f"write a .csv instead")
        part = self.arrays(outs)[0]
        if "index" in part:
            if self.proba:
                return part["probs"].astype(np.float32)
            if self.top_k is not None:
                return part["order"][:, :self.top_k].astype(np.int64)
            return part["index"].astype(np.int64)
        if "labels" in part:
            return (part["probs"] if self.proba else part["labels"]).astype(np.float32)
        v = part["values"]
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
    columns = _Columns(trained, proba, top_k)
    header = columns.header([int(np.prod(model.shapes[n])) or 1 for n in model.output_names])
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
