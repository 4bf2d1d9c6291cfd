"""Weight initializers (Keras names and defaults). Each is called as `init(shape, rng, dtype) -> array`."""

from __future__ import annotations

import math

import numpy as np

from nntrain.errors import ConfigError, ShapeError
from nntrain.engine.limits import reserve
from nntrain.registry import Registry

INITIALIZERS = Registry("initializer")


def _fans(shape: tuple) -> tuple[float, float]:
    # Keras: for a kernel (fan_in, fan_out); higher-rank kernels multiply in the receptive field.
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """Draws a weight's first values; `__call__` first makes sure the weight can exist at all."""

    def __call__(self, shape: tuple, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        """A new array of `shape`. Raises ShapeError, before allocating, for a weight this machine cannot train
        (its values, gradient and two optimizer slots at once; see nntrain.engine.limits)."""
        problem = reserve(shape, dtype)
        if problem is not None:
            raise ShapeError(f"a weight of {problem}")
        return self.draw(tuple(shape), rng, dtype)

    def draw(self, shape: tuple, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}


def get_initializer(spec) -> Initializer:
    return INITIALIZERS.build(spec)


class _VarianceScaling(Initializer):
    """Keras VarianceScaling: variance = scale / n with n = fan_in, fan_out or their mean;
    'truncated_normal' draws within 2 std (std corrected by 0.8796...), 'uniform' uses limit sqrt(3 * variance)."""

    scale = 1.0
    mode = "fan_in"
    distribution = "truncated_normal"

    def __init__(self, seed: int | None = None):
        self.seed = seed  # a per-initializer seed overrides the model's generator (Keras's `seed` argument)

    def get_config(self):
        return {"seed": self.seed}

    def draw(self, shape, rng, dtype=np.float32):
        if self.seed is not None:
            rng = np.random.default_rng(self.seed)
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape).astype(dtype)
        if self.distribution == "normal":
            return (rng.standard_normal(shape) * math.sqrt(variance)).astype(dtype)
        std = math.sqrt(variance) / 0.87962566103423978
        return (_truncated_normal(rng, shape) * std).astype(dtype)


def _truncated_normal(rng: np.random.Generator, shape) -> np.ndarray:
    """Standard normal samples redrawn until all lie within two standard deviations."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out


@INITIALIZERS.register("glorot_uniform", "xavier_uniform")
class GlorotUniform(_VarianceScaling):
    mode, distribution = "fan_avg", "uniform"


@INITIALIZERS.register("glorot_normal", "xavier_normal")
class GlorotNormal(_VarianceScaling):
    mode, distribution = "fan_avg", "truncated_normal"


@INITIALIZERS.register("he_normal")
class HeNormal(_VarianceScaling):
    scale, mode, distribution = 2.0, "fan_in", "truncated_normal"


@INITIALIZERS.register("he_uniform")
class HeUniform(_VarianceScaling):
    scale, mode, distribution = 2.0, "fan_in", "uniform"


@INITIALIZERS.register("lecun_normal")
class LecunNormal(_VarianceScaling):
    scale, mode, distribution = 1.0, "fan_in", "truncated_normal"


@INITIALIZERS.register("lecun_uniform")
class LecunUniform(_VarianceScaling):
    scale, mode, distribution = 1.0, "fan_in", "uniform"


@INITIALIZERS.register("random_normal")
class RandomNormal(Initializer):
    """Normal(mean, stddev); Keras defaults mean=0, stddev=0.05."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        if stddev < 0:
            raise ConfigError(f"random_normal(stddev=...) must be >= 0, got {stddev!r}")
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def draw(self, shape, rng, dtype=np.float32):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        return rng.normal(self.mean, self.stddev, size=shape).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


@INITIALIZERS.register("random_uniform")
class RandomUniform(Initializer):
    """Uniform(minval, maxval); Keras defaults -0.05, 0.05."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        if maxval < minval:
            raise ConfigError(f"random_uniform needs minval <= maxval, got minval={minval!r}, maxval={maxval!r}")
        self.minval, self.maxval, self.seed = float(minval), float(maxval), seed

    def draw(self, shape, rng, dtype=np.float32):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        return rng.uniform(self.minval, self.maxval, size=shape).astype(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


@INITIALIZERS.register("zeros")
class Zeros(Initializer):
    def draw(self, shape, rng, dtype=np.float32):
        return np.zeros(shape, dtype)


@INITIALIZERS.register("ones")
class Ones(Initializer):
    def draw(self, shape, rng, dtype=np.float32):
        return np.ones(shape, dtype)


@INITIALIZERS.register("constant")
class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def draw(self, shape, rng, dtype=np.float32):
        return np.full(shape, self.value, dtype)

    def get_config(self):
        return {"value": self.value}


@INITIALIZERS.register("orthogonal")
class Orthogonal(Initializer):
    """Keras Orthogonal: the (prod(shape[:-1]), shape[-1]) matrix has orthonormal rows or columns (whichever are
    fewer), times `gain`; from the QR decomposition of a normal draw, signs fixed by R's diagonal so the result is
    uniformly distributed. The default recurrent_initializer of SimpleRNN, LSTM and GRU."""

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        self.gain, self.seed = float(gain), seed

    def draw(self, shape, rng, dtype=np.float32):
        rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        if len(shape) < 2:
            raise ConfigError(f"orthogonal needs a weight of at least 2 dimensions, got shape {list(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return np.ascontiguousarray((self.gain * q).reshape(shape), dtype=dtype)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}
