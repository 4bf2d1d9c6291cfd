"""Preprocessing steps: small fitted transforms named in the config's `preprocessing:` lists.

Each step is fitted on the training rows only (`fit`), then applied to every split and at predict time
(`transform`). Its constructor arguments are its config (`get_config`), its fitted values its state (`get_state`:
arrays and numbers only), so a Preprocessor round-trips through a checkpoint without pickle.

Shapes below are per batch: x is (rows, ...); "sequences" are an object array (rows,) of integer id lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nntrain.data.raw import is_sequences, sequence_parts
from nntrain.data.state import as_str, plain
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError, DataError, ShapeError
from nntrain.registry import Registry

STEPS = Registry("preprocessing step")


def _numeric(x: Any, step: str) -> np.ndarray:
    if isinstance(x, MultiHot) or is_sequences(x):
        raise ConfigError(
            f"preprocessing step {step!r} needs numeric arrays, but this input holds "
            f"{'multi-hot rows' if isinstance(x, MultiHot) else 'integer sequences'}; put it before "
            "multi_hot/pad_sequences or remove it"
        )
    return np.asarray(x)


class Step:
    """Base class: a stateless transform unless a subclass overrides `fit`."""

    registered_name = "step"

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {}

    def fit(self, x: Any, hints: dict) -> None:
        """Learn from the training rows; `hints` may hold n_classes / vocab_size known upstream."""

    invertible = False  # whether inverse_transform can undo it (to report predictions in the target's units)

    def transform(self, x: Any) -> Any:
        raise NotImplementedError

    def inverse_transform(self, y: np.ndarray) -> np.ndarray:
        """float64 values in the units before this step, from values after it (only where `invertible`)."""
        raise NotImplementedError(f"{self.registered_name} cannot be undone")

    def get_state(self) -> dict:
        """Fitted values: numpy arrays and numbers only."""
        return {}

    def set_state(self, state: dict) -> None:
        pass

    def output_shape(self, shape: tuple | None, hints: dict) -> tuple | None:
        """Sample shape after this step (None entries: unknown until the data is read)."""
        return shape

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.registered_name}({args})"


class _PerFeature(Step):
    """Shared fit/state of steps that learn one shift and one scale per feature (over axis 0)."""

    def __init__(self):
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, x, hints):
        x = _numeric(x, self.registered_name)
        if len(x) == 0:
            raise DataError(f"{self.registered_name}: no training rows to fit on")
        shift, scale = self._stats(x.astype(np.float64))
        # constant features keep scale 1 so they map to 0 instead of dividing by zero
        scale = np.where(scale > 0, scale, 1.0)
        self.shift, self.scale = shift.astype(np.float32), scale.astype(np.float32)

    def transform(self, x):
        x = _numeric(x, self.registered_name)
        if x.shape[1:] != self.shift.shape:
            raise ShapeError(
                f"{self.registered_name} was fitted on samples of shape {self.shift.shape}, got {x.shape[1:]}"
            )
        return ((x.astype(np.float32) - self.shift) / self.scale).astype(np.float32)

    invertible = True

    def inverse_transform(self, y):
        return np.asarray(y, np.float64) * self.scale.astype(np.float64) + self.shift.astype(np.float64)

    def get_state(self):
        return {"shift": self.shift, "scale": self.scale}

    def set_state(self, state):
        self.shift = np.asarray(state["shift"], dtype=np.float32)
        self.scale = np.asarray(state["scale"], dtype=np.float32)


@STEPS.register("standardize", "standard_scaler", "normalize")
class Standardize(_PerFeature):
    """(x - mean) / std per feature, mean and std of the training rows (population std, like Keras)."""

    def _stats(self, x):
        return x.mean(axis=0), x.std(axis=0)


@STEPS.register("minmax", "min_max")
class MinMax(_PerFeature):
    """(x - min) / (max - min) per feature, so training values fill [0, 1]."""

    def _stats(self, x):
        lo = x.min(axis=0)
        return lo, x.max(axis=0) - lo


@STEPS.register("rescale", "rescaling")
class Rescale(Step):
    """x * scale + offset, e.g. scale=1/255 for 8-bit pixels (Keras's Rescaling layer)."""

    def __init__(self, scale: float, offset: float = 0.0):
        if not isinstance(scale, (int, float)) or isinstance(scale, bool):
            raise ConfigError(f"rescale expects a number scale, got scale={scale!r}")
        if not isinstance(offset, (int, float)) or isinstance(offset, bool):
            raise ConfigError(f"rescale expects a number offset, got offset={offset!r}")
        self.scale, self.offset = float(scale), float(offset)

    def get_config(self):
        return {"scale": self.scale, "offset": self.offset}

    def transform(self, x):
        x = _numeric(x, "rescale")
        return (x.astype(np.float32) * np.float32(self.scale) + np.float32(self.offset)).astype(np.float32)

    invertible = True

    def inverse_transform(self, y):
        return (np.asarray(y, np.float64) - self.offset) / self.scale


@STEPS.register("flatten")
class Flatten(Step):
    """(rows, d1, d2, ...) -> (rows, d1 * d2 * ...)."""

    def transform(self, x):
        x = _numeric(x, "flatten")
        return x.reshape(len(x), -1)

    def output_shape(self, shape, hints):
        if shape is None or any(d is None for d in shape):
            return (None,)
        return (int(np.prod(shape)),)


@STEPS.register("reshape")
class Reshape(Step):
    """(rows, ...) -> (rows, *shape); one entry of shape may be -1."""

    def __init__(self, shape: list[int]):
        if not isinstance(shape, (list, tuple)) or not all(isinstance(d, int) for d in shape):
            raise ConfigError(f"reshape expects shape: a list of integers, got shape={shape!r}")
        if sum(d == -1 for d in shape) > 1 or any(d == 0 or d < -1 for d in shape):
            raise ConfigError(f"reshape expects positive sizes and at most one -1, got shape={list(shape)}")
        self.shape = tuple(shape)

    def get_config(self):
        return {"shape": list(self.shape)}

    def transform(self, x):
        x = _numeric(x, "reshape")
        size = int(np.prod(x.shape[1:]))
        known = int(np.prod([d for d in self.shape if d != -1]))
        if (-1 in self.shape and size % known) or (-1 not in self.shape and size != known):
            raise ShapeError(
                f"reshape to {list(self.shape)} cannot hold samples of shape {x.shape[1:]} ({size} values)"
            )
        return x.reshape(len(x), *self.shape)

    def output_shape(self, shape, hints):
        if -1 not in self.shape:
            return self.shape
        if shape is None or any(d is None for d in shape):
            return tuple(None if d == -1 else d for d in self.shape)
        known = int(np.prod([d for d in self.shape if d != -1]))
        return tuple(int(np.prod(shape)) // known if d == -1 else d for d in self.shape)


class _FittedSize(Step):
    """A step with one size argument (classes, dimension, length): as given, or else fitted on the training rows.

    A subclass names the argument (`size_arg`, also its state key), the hint that can give the size before the rows
    are looked at (`size_hint`), and measures the rows in `_measure`.
    """

    size_arg = ""
    size_hint: str | None = None

    def __init__(self, size: int | None):
        if size is not None and (not isinstance(size, int) or size < 1):
            raise ConfigError(
                f"{self.registered_name} expects a positive integer {self.size_arg}, got {self.size_arg}={size!r}"
            )
        self.size = size
        self.fitted_size: int | None = size

    def get_config(self):
        return {self.size_arg: self.size}

    def _measure(self, x: Any, hints: dict) -> int:
        raise NotImplementedError

    def fit(self, x, hints):
        if self.size is None:
            self.fitted_size = self._measure(x, hints)

    def get_state(self):
        return {self.size_arg: int(self.fitted_size)}

    def set_state(self, state):
        self.fitted_size = int(state[self.size_arg])

    def output_shape(self, shape, hints):
        return (self.fitted_size or hints.get(self.size_hint),)


@STEPS.register("one_hot", "to_categorical")
class OneHot(_FittedSize):
    """Class indices (rows,) -> float32 (rows, num_classes) (Keras's to_categorical)."""

    size_arg, size_hint = "num_classes", "n_classes"

    def __init__(self, num_classes: int | None = None):
        super().__init__(num_classes)

    def _measure(self, x, hints):
        labels = _numeric(x, "one_hot")
        return int(hints.get("n_classes") or (int(labels.max()) + 1 if len(labels) else 0))

    def transform(self, x):
        idx = _numeric(x, "one_hot")
        if idx.ndim == 2 and idx.shape[1] == 1:
            idx = idx[:, 0]
        if idx.ndim != 1:
            raise ShapeError(f"one_hot expects class indices of shape (rows,), got {idx.shape}")
        k = self.fitted_size
        bad = (idx < 0) | (idx >= k) | (idx != np.round(idx))
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"one_hot: row {i + 1} has class {idx[i].item()!r}; expected an integer in 0..{k - 1}")
        out = np.zeros((len(idx), k), dtype=np.float32)
        out[np.arange(len(idx)), idx.astype(np.int64)] = 1.0
        return out


@STEPS.register("multi_hot", "vectorize_sequences")
class MultiHotStep(_FittedSize):
    """Integer sequences -> sparse MultiHot (rows, dimension): column j is 1 when id j occurs in the row.

    Ids >= dimension are dropped. The result stays sparse: the engine's Dense reads it directly.
    """

    size_arg, size_hint = "dimension", "vocab_size"

    def __init__(self, dimension: int | None = None):
        super().__init__(dimension)

    def _measure(self, x, hints):
        flat, _ = sequence_parts(x)
        return int(hints.get("vocab_size") or (int(flat.max()) + 1 if len(flat) else 1))

    def transform(self, x):
        if isinstance(x, MultiHot):
            return x
        flat, lengths = sequence_parts(x)
        d = self.fitted_size
        rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        keep = (flat >= 0) & (flat < d)
        # unique (row, id) pairs, sorted by row then id: one stored 1 per word present
        keys = np.unique(rows[keep] * d + flat[keep])
        counts = np.bincount(keys // d, minlength=len(lengths))
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return MultiHot(indptr, (keys % d).astype(np.int32), d)


@STEPS.register("pad_sequences")
class PadSequences(_FittedSize):
    """Integer sequences -> int32 (rows, maxlen), like keras pad_sequences.

    Longer sequences lose ids at the start ('pre') or end ('post'); shorter ones get `value` before ('pre') or
    after ('post') them. maxlen defaults to the longest training sequence.
    """

    size_arg = "maxlen"

    def __init__(self, maxlen: int | None = None, padding: str = "pre", truncating: str = "pre", value: int = 0):
        super().__init__(maxlen)
        for arg, v in (("padding", padding), ("truncating", truncating)):
            if v not in ("pre", "post"):
                raise ConfigError(f"pad_sequences expects {arg} 'pre' or 'post', got {arg}={v!r}")
        if not isinstance(value, int):
            raise ConfigError(f"pad_sequences expects an integer value, got value={value!r}")
        self.padding, self.truncating, self.value = padding, truncating, value

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "truncating": self.truncating, "value": self.value}

    def _measure(self, x, hints):
        _, lengths = sequence_parts(x)
        return max(int(lengths.max()) if len(lengths) else 1, 1)

    def transform(self, x):
        flat, lengths = sequence_parts(x)
        n, width = len(lengths), self.fitted_size
        kept = np.minimum(lengths, width)
        src = np.cumsum(lengths) - lengths  # where each sequence starts in flat
        if self.truncating == "pre":
            src = src + lengths - kept
        dst = width - kept if self.padding == "pre" else np.zeros(n, dtype=np.int64)
        out = np.full((n, width), self.value, dtype=np.int32)
        # element j of row i's kept part: out[i, dst_i + j] = flat[src_i + j]
        rows = np.repeat(np.arange(n, dtype=np.int64), kept)
        j = np.arange(int(kept.sum()), dtype=np.int64) - np.repeat(np.cumsum(kept) - kept, kept)
        out[rows, np.repeat(dst, kept) + j] = flat[np.repeat(src, kept) + j]
        return out


def build_step(item: Any, path: tuple = ()) -> Step:
    """A step from its config: a name, or {name: {arguments}} (a null argument mapping means none)."""
    if isinstance(item, str):
        return STEPS.build(item)
    if isinstance(item, dict) and len(item) == 1:
        (name, args), = item.items()
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise ConfigError(f"preprocessing step {name!r} expects a mapping of arguments, got {args!r}", path)
        try:
            return STEPS.build(name, **args)
        except ConfigError as exc:
            raise ConfigError(str(exc), path) from None
    raise ConfigError(f"a preprocessing step is a name or {{name: {{arguments}}}}, got {item!r}", path)


def step_state(step: Step) -> dict:
    return {"name": step.registered_name, "config": step.get_config(), "state": step.get_state()}


def step_from_state(state: dict) -> Step:
    config = {k: plain(v) for k, v in dict(state.get("config") or {}).items()}
    step = STEPS.build(as_str(state["name"]), **config)
    step.set_state(dict(state.get("state") or {}))
    return step



from nntrain.data import impute as _impute  # noqa: E402,F401  registers the impute step (it builds on Step)
