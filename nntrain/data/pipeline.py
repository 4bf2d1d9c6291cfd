"""Preprocessor: everything fitted on the training rows that turns raw data into model inputs and targets.

Per input: a first stage chosen by the input's kind (CSV columns -> ColumnEncoder, text -> Tokenizer, arrays and
sequences as they are), then the configured steps. Per output: a TargetEncoder (labels -> class indices), then the
target steps. The whole state is a nested dict of arrays, strings and numbers (`get_state`), so a checkpoint stores
it without pickle and `Preprocessor.from_state` rebuilds identical transforms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nntrain.data.columns import ColumnEncoder
from nntrain.data.encoders import TargetEncoder, Tokenizer
from nntrain.data.raw import RawData, RawSplit, is_sequences
from nntrain.data.state import as_list, as_str, as_str_list
from nntrain.data.steps import Step, build_step, step_from_state, step_state
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError, DataError, DataWarning
from nntrain.registry import did_you_mean

STATE_FORMAT = "nntrain.preprocessor/1"


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def steps_per_name(config: Any, names: list[str], key: str) -> dict[str, list]:
    """A steps config (a list for every name, or name -> list) as name -> list of step configs."""
    if config is None:
        return {n: [] for n in names}
    if isinstance(config, list):
        return {n: list(config) for n in names}
    if isinstance(config, dict):
        for n in config:
            if n not in names:
                raise ConfigError(
                    f"data.{key} names {n!r}{did_you_mean(str(n), names)}, which is not one of the "
                    f"{'inputs' if key == 'preprocessing' else 'outputs'}: {names}",
                    ("data", key, n),
                )
        return {n: list(config.get(n) or []) for n in names}
    raise ConfigError(f"data.{key} must be a list of steps or a mapping name -> list, got {config!r}", ("data", key))


def _source(state: Any) -> dict:
    """A pipeline's source mapping with str names and int shapes, however the checkpoint returned it."""
    source = {as_str(k): v for k, v in dict(state or {}).items()}
    for key in ("type", "key", "name"):
        if key in source:
            source[key] = as_str(source[key])
    if "columns" in source:
        source["columns"] = as_str_list(source["columns"])
    for key in ("sample_shape", "indices"):
        if key in source:
            source[key] = [int(d) for d in as_list(source[key])]
    return source


def _steps(configs: list, path: tuple) -> list[Step]:
    return [build_step(item, (*path, i)) for i, item in enumerate(configs)]


class InputPipeline:
    """Raw input of one kind -> model input: float32 array, int32 ids, or MultiHot.

    Attributes:
        name: input name ("input" for single-input models).
        kind: "table" | "array" | "sequences" | "text" (see nntrain.data.raw).
        source: where the input lives in a file, for read_inputs ({"type": "columns", "columns": [...]},
            {"type": "x_columns", "indices": [...]} for columns of a catalogue x, ...).
        encoder: ColumnEncoder (table), Tokenizer (text) or None.
        steps: the fitted preprocessing steps.
    """

    def __init__(self, name: str, kind: str, source: dict, encoder=None, steps: list[Step] | None = None):
        self.name, self.kind, self.source = name, kind, dict(source)
        self.encoder = encoder
        self.steps = list(steps or [])

    def _encode(self, raw: Any) -> Any:
        if self.kind == "table":
            return self.encoder.transform(raw)
        if self.kind == "text":
            return self.encoder.transform(raw)
        if self.kind == "array":
            x = np.asarray(raw)
            if x.dtype == object or x.dtype.kind not in "biuf":
                raise DataError(f"input {self.name!r}: expected a numeric array, got dtype {x.dtype}")
            return x
        return raw

    def _finish(self, x: Any) -> Any:
        if isinstance(x, MultiHot):
            return x
        if is_sequences(x):
            raise ConfigError(
                f"input {self.name!r} holds integer sequences of different lengths; add a `multi_hot` step "
                "(bag of words for Dense) or a `pad_sequences` step (ids for Embedding) to data.preprocessing",
                ("data", "preprocessing"),
            )
        x = np.asarray(x)
        if x.dtype.kind in "iu" and any(s.registered_name == "pad_sequences" for s in self.steps):
            return x.astype(np.int32, copy=False)
        return x.astype(np.float32, copy=False)

    def _split_steps(self) -> tuple[list[Step], list[Step]]:
        """(steps on the raw table's columns, steps on the encoded array): a table input imputes its columns
        before they are encoded, wherever `impute` is listed."""
        if self.kind != "table":
            return [], self.steps
        first = [s for s in self.steps if s.registered_name == "impute"]
        return first, [s for s in self.steps if s.registered_name != "impute"]

    def fit_transform(self, raw: Any, hints: dict) -> Any:
        if self.kind == "array":
            # the sample shape new files must have at predict time
            self.source["sample_shape"] = [int(d) for d in np.asarray(raw).shape[1:]]
        on_columns, on_array = self._split_steps()
        for step in on_columns:
            step.fit(raw, hints)
            raw = step.transform(raw)
        if self.kind == "table":
            self.encoder.fit(raw)
        elif self.kind == "text":
            self.encoder.fit(raw)
            hints = {**hints, "vocab_size": self.encoder.width}
        x = self._encode(raw)
        for step in on_array:
            step.fit(x, hints)
            x = step.transform(x)
        return self._finish(x)

    def transform(self, raw: Any) -> Any:
        on_columns, on_array = self._split_steps()
        for step in on_columns:
            raw = step.transform(raw)
        x = self._encode(raw)
        for step in on_array:
            x = step.transform(x)
        return self._finish(x)

    @property
    def feature_names(self) -> list[str] | None:
        return self.encoder.feature_names if isinstance(self.encoder, ColumnEncoder) else None

    def get_state(self) -> dict:
        state = {"kind": self.kind, "source": dict(self.source), "steps": [step_state(s) for s in self.steps]}
        for entry in state["steps"]:
            entry["config"] = _drop_none(entry["config"])
        if self.encoder is not None:
            enc = self.encoder.get_state()
            if isinstance(self.encoder, Tokenizer):
                enc["config"] = _drop_none(enc["config"])
            state["encoder"] = enc
        return state

    @classmethod
    def from_state(cls, name: str, state: dict) -> InputPipeline:
        kind = as_str(state["kind"])
        encoder = None
        if kind == "table":
            encoder = ColumnEncoder.from_state(state["encoder"])
        elif kind == "text":
            encoder = Tokenizer.from_state(state["encoder"])
        steps = [step_from_state(s) for s in as_list(state.get("steps"))]
        return cls(name, kind, _source(state.get("source")), encoder, steps)


class OutputPipeline:
    """Raw targets of one output -> training targets (class indices, one-hot rows, or float values)."""

    def __init__(self, name: str, source: dict, encoder: TargetEncoder | None = None, steps: list[Step] | None = None):
        self.name, self.source = name, dict(source)
        self.encoder = encoder or TargetEncoder(name)
        self.steps = list(steps or [])

    def fit_transform(self, raw: np.ndarray, class_names: list[str] | None, task: str | None) -> np.ndarray:
        self.encoder.fit(raw, class_names, task)
        y = self.encoder.transform(raw)
        for step in self.steps:
            step.fit(y, {"n_classes": self.encoder.n_classes})
            y = step.transform(y)
        return y

    def transform(self, raw: np.ndarray, source: str = "") -> np.ndarray:
        y = self.encoder.transform(raw, source)
        for step in self.steps:
            y = step.transform(y)
        return y

    def inverse_transform(self, values: np.ndarray) -> np.ndarray | None:
        """Model-space regression values (rows,) or (rows, k) back in the raw target's units, as float64, undoing the
        target steps (standardize, minmax, rescale) last first; None when a step cannot be undone."""
        if not all(step.invertible for step in self.steps):
            return None
        v = np.asarray(values, np.float64)
        for step in reversed(self.steps):
            v = step.inverse_transform(v)
        return v

    @property
    def width(self) -> int:
        """Target columns the model output must produce (n_classes after one_hot, 1 for class indices)."""
        one_hot = [s for s in self.steps if s.registered_name == "one_hot"]
        return int(one_hot[-1].fitted_size) if one_hot else self.encoder.width

    def get_state(self) -> dict:
        steps = [step_state(s) for s in self.steps]
        for entry in steps:
            entry["config"] = _drop_none(entry["config"])
        return {"source": dict(self.source), "encoder": self.encoder.get_state(), "steps": steps}

    @classmethod
    def from_state(cls, name: str, state: dict) -> OutputPipeline:
        steps = [step_from_state(s) for s in as_list(state.get("steps"))]
        return cls(name, _source(state.get("source")), TargetEncoder.from_state(state["encoder"]), steps)


class Preprocessor:
    """Fitted transforms of every input and output.

    Attributes:
        inputs: input name -> InputPipeline.
        outputs: output name -> OutputPipeline.
        single_input: the model has one unnamed input: transform_x returns an array, not a dict.
        single_output: likewise for targets.
    """

    def __init__(
        self,
        inputs: dict[str, InputPipeline],
        outputs: dict[str, OutputPipeline],
        single_input: bool = True,
        single_output: bool = True,
    ):
        self.inputs, self.outputs = dict(inputs), dict(outputs)
        self.single_input, self.single_output = bool(single_input), bool(single_output)

    @classmethod
    def from_spec(cls, raw: RawData, spec: dict) -> Preprocessor:
        """Unfitted pipelines for the inputs/outputs of `raw`, with the steps the data spec names."""
        in_names, out_names = list(raw.kinds), list(raw.train.y)
        in_steps = steps_per_name(spec.get("preprocessing"), in_names, "preprocessing")
        out_steps = steps_per_name(spec.get("target_preprocessing"), out_names, "target_preprocessing")
        single_in = "inputs" not in spec or not spec.get("inputs")
        single_out = "outputs" not in spec or not spec.get("outputs")
        inputs = {}
        for name in in_names:
            kind = raw.kinds[name]
            encoder = ColumnEncoder(options=spec.get("categorical")) if kind == "table" else None
            if kind == "text":
                tok = dict(spec.get("tokenizer") or {})
                encoder = Tokenizer(tok.get("num_words"), bool(tok.get("lowercase", True)))
            path = ("data", "preprocessing") if isinstance(spec.get("preprocessing"), list) or single_in else (
                "data", "preprocessing", name)
            inputs[name] = InputPipeline(name, kind, raw.sources.get(name, {}), encoder, _steps(in_steps[name], path))
        outputs = {}
        for name in out_names:
            path = ("data", "target_preprocessing")
            outputs[name] = OutputPipeline(name, {"name": name}, TargetEncoder(name), _steps(out_steps[name], path))
        return cls(inputs, outputs, single_in, single_out)

    def fit_transform(self, split: RawSplit, raw: RawData) -> tuple[Any, Any]:
        """Fit every pipeline on the training split and return its transformed (x, y)."""
        x = {n: p.fit_transform(split.x[n], dict(raw.hints.get(n, {}))) for n, p in self.inputs.items()}
        y = {
            n: p.fit_transform(split.y[n], raw.class_names.get(n), raw.tasks.get(n)) for n, p in self.outputs.items()
        }
        return self._pack_x(x), self._pack_y(y)

    def _pack_x(self, x: dict) -> Any:
        return x[next(iter(x))] if self.single_input else x

    def _pack_y(self, y: dict) -> Any:
        return y[next(iter(y))] if self.single_output else y

    def transform_x(self, raw_x: Any) -> Any:
        """Model inputs from raw inputs: a dict name -> raw input, or the raw input itself for one input.

        Returns:
            float32 (rows, ...) / int32 (rows, maxlen) / MultiHot (rows, dimension), or a dict name -> those.
        """
        if not isinstance(raw_x, dict):
            if len(self.inputs) != 1:
                raise DataError(f"this model has {len(self.inputs)} inputs {list(self.inputs)}; pass a dict")
            raw_x = {next(iter(self.inputs)): raw_x}
        missing = [n for n in self.inputs if n not in raw_x]
        if missing:
            raise DataError(f"no data for model input(s) {missing}; got {list(raw_x)}")
        return self._pack_x({n: p.transform(raw_x[n]) for n, p in self.inputs.items()})

    def transform_y(self, raw_y: Any, source: str = "") -> Any:
        """Training targets from raw targets (a dict name -> array, or the array itself for one output)."""
        if not isinstance(raw_y, dict):
            raw_y = {next(iter(self.outputs)): raw_y}
        missing = [n for n in self.outputs if n not in raw_y]
        if missing:
            raise DataError(f"no targets for output(s) {missing}; got {list(raw_y)}")
        return self._pack_y({n: p.transform(raw_y[n], source) for n, p in self.outputs.items()})

    def warn_unseen(self, part: str = "") -> list[str]:
        """A DataWarning per table column that met categories the training rows never had since the last call
        (see columns.py); returns the lines warned.

        Args:
            part: which rows were transformed ("validation", "test"), or "" for a new file's rows.
        """
        import warnings

        lines = [line for p in self.inputs.values() if isinstance(p.encoder, ColumnEncoder)
                 for line in p.encoder.take_unseen(part)]
        for line in lines:
            warnings.warn(DataWarning(line), stacklevel=2)
        return lines

    @property
    def class_names(self) -> dict[str, list[str] | None]:
        """Output name -> class names (index order), or None when unknown or not a classification output."""
        return {n: p.encoder.class_names for n, p in self.outputs.items()}

    def get_state(self) -> dict:
        """Nested dict of numpy arrays, str, int, float and lists (no None, no pickle)."""
        return {
            "format": STATE_FORMAT,
            "single_input": int(self.single_input),
            "single_output": int(self.single_output),
            "input_order": list(self.inputs),
            "output_order": list(self.outputs),
            "inputs": {n: p.get_state() for n, p in self.inputs.items()},
            "outputs": {n: p.get_state() for n, p in self.outputs.items()},
        }

    @classmethod
    def from_state(cls, state: dict) -> Preprocessor:
        """Rebuild the fitted preprocessor `get_state` described."""
        fmt = as_str(state.get("format"))
        if fmt != STATE_FORMAT:
            raise DataError(f"unknown preprocessor state format {fmt!r}; expected {STATE_FORMAT!r}")
        in_order = as_str_list(state.get("input_order", list(state["inputs"])))
        out_order = as_str_list(state.get("output_order", list(state["outputs"])))
        inputs = {n: InputPipeline.from_state(n, state["inputs"][n]) for n in in_order}
        outputs = {n: OutputPipeline.from_state(n, state["outputs"][n]) for n in out_order}
        return cls(inputs, outputs, bool(int(state["single_input"])), bool(int(state["single_output"])))
