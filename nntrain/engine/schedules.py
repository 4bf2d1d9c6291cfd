"""Learning-rate schedules: `schedule(step) -> float`, where `step` counts optimizer updates (batches), as in Keras.

Formulas and defaults follow Keras 3 (`keras.optimizers.schedules`); `step_decay` is the usual "multiply by
`factor` every `step_size` steps". An optimizer evaluates its schedule once per update, at its `iterations`.
"""

from __future__ import annotations

import bisect
import inspect
import math
from numbers import Integral, Real

import numpy as np

from nntrain.errors import ConfigError
from nntrain.registry import Registry

SCHEDULES = Registry("schedule")


def check_number(owner: str, name: str, value, low, high=None, *, low_open=False, high_open=False, integer=False):
    """`value` as a Python int or float (ints stay ints, so configs read back as written), or ConfigError naming the
    owner, the argument and the expected range.

    Shared with the optimizers and losses. Bounds are inclusive unless `low_open` / `high_open`; `high=None` means unbounded.
    """
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if integer:
        ok = ok and float(value).is_integer()
    if ok:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        kind = "an integer" if integer else "a number"
        if high is None:
            where = f"{'>' if low_open else '>='} {low}"
        else:
            where = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ConfigError(f"{owner}({name}=...) expects {kind} {where}, got {name}={value!r}{text_number_hint(value)}")
    return int(value) if integer or isinstance(value, Integral) else float(value)


def text_number_hint(value) -> str:
    """A hint for a number that arrived as text (YAML 1.1 reads `1e-3`, without a dot, as a string), else ""."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (a number written as text: unquote it, and write exponents with a dot, e.g. 1.0e-3)"
    return ""


def check_bool(owner: str, name: str, value) -> bool:
    """`value` as a bool if it is one (NumPy's too), else ConfigError (YAML's `true`/`false` are bools; the string
    "false" is not)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{owner}({name}=...) expects true or false, got {name}={value!r}")
    return bool(value)


class Schedule:
    """Base class: a learning rate as a function of the optimizer step.

    Subclasses store each constructor argument under its own name, so `get_config` and `repr` need no code.
    """

    registered_name = "schedule"

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor's arguments; `SCHEDULES.build(registered_name, **config)` rebuilds the schedule."""
        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def serialize(schedule: Schedule) -> dict:
    """`{"name": ..., **config}`: the form a YAML file uses, accepted back by `SCHEDULES.build`."""
    return {"name": schedule.registered_name, **schedule.get_config()}


@SCHEDULES.register("constant")
class Constant(Schedule):
    """lr(step) = learning_rate."""

    def __init__(self, learning_rate: float):
        self.learning_rate = check_number("Constant", "learning_rate", learning_rate, 0)

    def __call__(self, step: int) -> float:
        return self.learning_rate


@SCHEDULES.register("exponential_decay")
class ExponentialDecay(Schedule):
    """lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps).

    With `staircase=True` the exponent is floor(step / decay_steps), so the rate drops in steps.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float, staircase: bool = False):
        self.initial_learning_rate = check_number("ExponentialDecay", "initial_learning_rate",
                                                  initial_learning_rate, 0)
        self.decay_steps = check_number("ExponentialDecay", "decay_steps", decay_steps, 0, low_open=True)
        self.decay_rate = check_number("ExponentialDecay", "decay_rate", decay_rate, 0)
        self.staircase = check_bool("ExponentialDecay", "staircase", staircase)

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p


@SCHEDULES.register("piecewise_constant", "piecewise_constant_decay", "step")
class PiecewiseConstantDecay(Schedule):
    """values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i],
    values[-1] once step > boundaries[-1] (a boundary step still gets the earlier value, as in Keras)."""

    def __init__(self, boundaries: list, values: list):
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise ConfigError(
                f"PiecewiseConstantDecay expects lists for boundaries and values, got boundaries={boundaries!r}, "
                f"values={values!r}"
            )
        if len(values) != len(boundaries) + 1:
            raise ConfigError(
                f"PiecewiseConstantDecay needs one more value than boundaries, got {len(boundaries)} boundaries "
                f"{list(boundaries)} and {len(values)} values {list(values)}"
            )
        for b in boundaries:
            check_number("PiecewiseConstantDecay", "boundaries", b, 0)
        for v in values:
            check_number("PiecewiseConstantDecay", "values", v, 0)
        if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ConfigError(
                f"PiecewiseConstantDecay(boundaries=...) must be strictly increasing, got boundaries={boundaries!r}"
            )
        self.boundaries = list(boundaries)
        self.values = list(values)

    def __call__(self, step: int) -> float:
        # bisect_left counts the boundaries strictly below `step`: a step equal to a boundary keeps the earlier value.
        return float(self.values[bisect.bisect_left(self.boundaries, step)])


@SCHEDULES.register("step_decay")
class StepDecay(Schedule):
    """lr(step) = initial_learning_rate * factor ** floor(step / step_size): a drop every `step_size` steps."""

    def __init__(self, initial_learning_rate: float, step_size: int, factor: float = 0.1):
        self.initial_learning_rate = check_number("StepDecay", "initial_learning_rate", initial_learning_rate, 0)
        self.step_size = check_number("StepDecay", "step_size", step_size, 0, low_open=True, integer=True)
        if isinstance(factor, Real) and not isinstance(factor, bool) and factor > 1:
            # Almost always "divide by" misread as "multiply by".
            raise ConfigError(
                f"StepDecay(factor=...) multiplies the learning rate at each drop and expects a number in (0, 1], "
                f"got factor={factor!r} (to divide by {factor}, use factor={1 / factor:g})"
            )
        self.factor = check_number("StepDecay", "factor", factor, 0, 1, low_open=True)

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * self.factor ** (step // self.step_size)


@SCHEDULES.register("cosine_decay")
class CosineDecay(Schedule):
    """Cosine decay with an optional linear warmup, as Keras 3's `CosineDecay`.

    Without `warmup_target`, with s = min(step, decay_steps):
        lr(step) = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)
    With `warmup_target`, the rate first rises linearly from `initial_learning_rate` to `warmup_target` over
    `warmup_steps` steps, then decays as above from `warmup_target` over the next `decay_steps` steps.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, alpha: float = 0.0,
                 warmup_target: float | None = None, warmup_steps: float = 0):
        self.initial_learning_rate = check_number("CosineDecay", "initial_learning_rate", initial_learning_rate, 0)
        self.decay_steps = check_number("CosineDecay", "decay_steps", decay_steps, 0, low_open=True)
        self.alpha = check_number("CosineDecay", "alpha", alpha, 0, 1)
        self.warmup_steps = check_number("CosineDecay", "warmup_steps", warmup_steps, 0)
        if warmup_target is None:
            # Keras silently ignores warmup_steps here; a user who set it surely meant a warmup.
            if self.warmup_steps:
                raise ConfigError(
                    f"CosineDecay(warmup_steps={warmup_steps!r}) needs warmup_target, the learning rate to warm up to"
                )
            self.warmup_target = None
        else:
            self.warmup_target = check_number("CosineDecay", "warmup_target", warmup_target, 0)

    def __call__(self, step: int) -> float:
        start = self.initial_learning_rate
        if self.warmup_target is not None:
            if step < self.warmup_steps:
                return start + (self.warmup_target - start) * (step / self.warmup_steps)
            step -= self.warmup_steps
            start = self.warmup_target
        s = min(step, self.decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * s / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)
