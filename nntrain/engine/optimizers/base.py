"""Optimizers: Keras 3's update rules on NumPy arrays, the parameters updated in place.

The base class owns what every optimizer shares: the step counter, the learning rate or its schedule, gradient
clipping, decoupled weight decay, the slot arrays and their checkpoint state. A subclass declares its slots and writes
its update rule, once, over all parameters at a time.

Why flat buffers: for a small model each NumPy call costs far more than its arithmetic, and an Adam step is a dozen
calls. So the parameters of one dtype are laid end to end: the gradients are gathered into one flat buffer, the
slots and scratch are flat too, the rule runs once on the whole buffer, and each parameter then takes its slice of
the result (`w -= delta`). A step costs the rule's dozen calls plus about one call per parameter, and allocates no
array the size of a parameter.

A Model already keeps its weights and gradients as views into one flat buffer each, and hands both to `build`:
then nothing is gathered and the whole step is the rule's calls plus one `w -= delta` on the flat weights.

A gradient may also arrive unmultiplied, as the factors (a, b) of a.T @ b (a Dense kernel's x.T @ dz), when the
optimizer said at compile time that it can fuse that product with its step (`fused_products`): plain SGD then
updates the kernel inside the product itself (engine/kernels.py), and no gradient the size of the kernel is written.
"""

from __future__ import annotations

import inspect
import math
from numbers import Real

import numpy as np

from nntrain.engine.schedules import SCHEDULES, Schedule, check_number, serialize, text_number_hint
from nntrain.errors import CheckpointError, ConfigError
from nntrain.registry import Registry

OPTIMIZERS = Registry("optimizer")


class _FlatGroup:
    """The parameters of one dtype, end to end: flat gradient, slot and scratch buffers, with per-parameter views."""

    __slots__ = ("keys", "grad", "param", "slots", "scratch", "grad_views", "delta_views", "slot_views", "ranges")

    def __init__(self, params: dict[str, np.ndarray], slot_init: dict[str, float], n_scratch: int,
                 flat_params: np.ndarray | None = None, flat_grads: np.ndarray | None = None):
        self.keys = list(params)
        dtype = next(iter(params.values())).dtype
        total = sum(p.size for p in params.values())
        # `param` is the flat weight buffer when the owner shares it (the params are its views, end to end);
        # then `grad` is the owner's flat gradient buffer, read in place instead of gathered.
        self.param = flat_params
        self.grad = flat_grads if flat_params is not None else np.empty(total, dtype)
        self.slots = tuple(np.full(total, value, dtype) for value in slot_init.values())
        self.scratch = tuple(np.empty(total, dtype) for _ in range(n_scratch))
        self.grad_views = self._views(self.grad, params)
        self.delta_views = self._views(self.scratch[0], params)
        self.slot_views = {
            f"{key}/{name}": view
            for name, flat in zip(slot_init, self.slots)
            for key, view in zip(self.keys, self._views(flat, params))
        }
        self.ranges: dict[tuple, list[slice]] = {}  # keys left out -> the ranges of the flat buffers that remain

    def ranges_without(self, left_out: tuple) -> list[slice]:
        """The ranges of the flat buffers that hold every parameter but those keyed in `left_out`."""
        if left_out not in self.ranges:
            ranges, start, stop = [], 0, 0
            for key, view in zip(self.keys, self.grad_views):
                stop += view.size
                if key in left_out:
                    if start < stop - view.size:
                        ranges.append(slice(start, stop - view.size))
                    start = stop
            if start < stop:
                ranges.append(slice(start, stop))
            self.ranges[left_out] = ranges
        return self.ranges[left_out]

    @staticmethod
    def _views(flat: np.ndarray, params: dict[str, np.ndarray]) -> list[np.ndarray]:
        views, start = [], 0
        for p in params.values():
            views.append(flat[start : start + p.size].reshape(p.shape))
            start += p.size
        return views


class Optimizer:
    """Base class. The model calls `apply(params, grads, products)` once per batch.

    Each step, as in Keras 3: clip the gradients (at most one of `clipnorm` per parameter, `clipvalue` elementwise,
    `global_clipnorm` over all of them), decay the weights (`w -= w * weight_decay * lr`, when set), apply the
    subclass's rule with the learning rate of the current step, and count the step.

    Args:
        learning_rate: a number >= 0, a `Schedule`, or a mapping such as {"name": "cosine_decay", ...}.
        clipnorm: clip each parameter's gradient to this L2 norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: scale all gradients together so that their joint L2 norm is at most this.
        weight_decay: decoupled weight decay, applied to every parameter before the update.

    Attributes:
        iterations: the number of `apply` calls done; schedules and bias corrections read it.
    """

    n_scratch = 1  # flat scratch buffers the rule needs; scratch[0] receives the step to subtract
    scalar_state: tuple[str, ...] = ()  # float attributes saved with the slots (Nadam's running product)

    def __init__(self, learning_rate: float | dict | Schedule = 0.001, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 weight_decay: float | None = None):
        owner = type(self).__name__
        self._schedule: Schedule | None = None
        self._lr = 0.0
        if isinstance(learning_rate, dict):
            learning_rate = SCHEDULES.build(learning_rate)
        if isinstance(learning_rate, Schedule):
            self._schedule = learning_rate
        elif isinstance(learning_rate, Real) and not isinstance(learning_rate, bool):
            self._lr = check_number(owner, "learning_rate", learning_rate, 0)
        else:
            raise ConfigError(
                f"{owner}(learning_rate=...) expects a number >= 0 or a schedule mapping such as "
                f"{{name: cosine_decay, initial_learning_rate: 0.01, decay_steps: 1000}}, got "
                f"learning_rate={learning_rate!r}{text_number_hint(learning_rate)}"
            )
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        given = [name for name, value in clips.items() if value is not None]
        if len(given) > 1:
            raise ConfigError(f"{owner} accepts only one of clipnorm, clipvalue and global_clipnorm, got {given}")
        for name, value in clips.items():
            setattr(self, name, None if value is None else check_number(owner, name, value, 0, low_open=True))
        self.weight_decay = None if weight_decay is None else check_number(owner, "weight_decay", weight_decay, 0)
        self.iterations = 0
        self._groups: list[_FlatGroup] | None = None  # None until build()
        self._n_params = 0
        self._slot_views: dict[str, np.ndarray] = {}  # "<param key>/<slot name>" -> view into a flat slot
        self._pending_slots: dict | None = None  # slots given to set_state() before build()

    # ----- what a subclass provides

    def slots(self) -> dict[str, float]:
        """The slot names this optimizer keeps for every parameter, with their initial values."""
        return {}

    def _begin_step(self, lr: float):
        """Called once per step, before the rule; returns the per-step constants `_update` needs (by default lr)."""
        return lr

    def _update(self, g: np.ndarray, slots: tuple, scratch: tuple, c) -> None:
        """The rule on flat buffers: update the slots and write into scratch[0] the step to subtract from w.

        Args:
            g: (n,) gradients of all parameters of one dtype, clipped.
            slots: (n,) arrays in the order of `slots()`.
            scratch: `n_scratch` (n,) arrays, of undefined content.
            c: what `_begin_step` returned.
        """
        raise NotImplementedError

    # ----- the contract the training loop uses

    @property
    def learning_rate(self) -> float:
        """The learning rate of the coming step (the schedule evaluated at `iterations`)."""
        return self._lr if self._schedule is None else float(self._schedule(self.iterations))

    def set_learning_rate(self, value: float) -> None:
        """Fix the learning rate to `value`, replacing any schedule (used by ReduceLROnPlateau and friends)."""
        self._lr = check_number(type(self).__name__, "learning_rate", value, 0)
        self._schedule = None

    def build(self, params: dict[str, np.ndarray], flat_params: np.ndarray | None = None,
              flat_grads: np.ndarray | None = None) -> None:
        """Create the slots (same dtype as the parameters, zeros unless the rule says otherwise) and scratch buffers.

        Args:
            params: the trainable parameters, keyed "<layer>/<param>"; `apply` must get the same keys.
            flat_params, flat_grads: optional 1-D buffers of which `params` and the gradients `apply` will get are
                views, in the order of `params` and end to end (a Model's own buffers). The step then reads the
                gradients and updates the weights through them in place; clipping scales that gradient buffer.
        """
        by_dtype: dict[np.dtype, dict[str, np.ndarray]] = {}
        for key, p in params.items():
            by_dtype.setdefault(p.dtype, {})[key] = p
        shared = (flat_params is not None and flat_grads is not None and len(by_dtype) == 1
                  and flat_params.dtype in by_dtype and flat_params.size == sum(p.size for p in params.values()))
        if shared:
            self._groups = [_FlatGroup(params, self.slots(), self.n_scratch, flat_params, flat_grads)]
        else:
            self._groups = [_FlatGroup(group, self.slots(), self.n_scratch) for group in by_dtype.values()]
        self._n_params = len(params)
        self._slot_views = {k: v for group in self._groups for k, v in group.slot_views.items()}
        if self._pending_slots is not None:
            pending, self._pending_slots = self._pending_slots, None
            self._restore_slots(pending)

    def fused_products(self, offered: dict[str, np.ndarray]) -> list[str]:
        """Which of the `offered` parameters (those whose gradient is a product a.T @ b) this optimizer wants as
        the factors (a, b), to fuse the product with its step. None by default: a rule that reads the gradient
        (slots, clipping) needs it written. Asked once, when the model is compiled."""
        return []

    def apply(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], products: dict | None = None) -> None:
        """One step: update every array of `params` in place (never rebound), then count the step.

        Args:
            params: the trainable parameters, keyed as in `build` (built on the first call if needed).
            grads: their gradients, same keys and shapes; read, not modified (but for clipping when `build` was
                given the flat gradient buffer: it is clipped in place).
            products: {key: (a, b)} for gradients given as the factors of a.T @ b instead (their `grads` entry
                is not written); a: (rows, m), b: (rows, n) for an (m, n) parameter.
        """
        if products and self._apply_products(params, grads, products):
            return  # the rule took its whole step fused with the products
        if self._groups is None:
            self.build(params)
        elif len(params) != self._n_params:
            raise ValueError(
                f"{type(self).__name__} was built for {self._n_params} parameters but got {len(params)}; "
                "a new set of parameters needs a new optimizer"
            )
        for group in self._groups:
            if group.param is None:
                np.concatenate([grads[key].reshape(-1) for key in group.keys], out=group.grad)
        self._clip()
        lr = self.learning_rate
        c = self._begin_step(lr)
        keep = 1.0 - lr * self.weight_decay if self.weight_decay else None
        for group in self._groups:
            self._update(group.grad, group.slots, group.scratch, c)
            if group.param is not None:
                if keep is not None:
                    group.param *= keep
                group.param -= group.scratch[0]
                continue
            for key, delta in zip(group.keys, group.delta_views):
                w = params[key]
                if keep is not None:
                    w *= keep  # Keras decays the weights before the rule's step (which does not depend on w)
                w -= delta
        self.iterations += 1

    def _apply_products(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], products: dict) -> bool:
        """Take the gradients given as factors: by default write each product into its gradient, for the rule to
        read, and return False. A rule that fuses them (plain SGD) takes its whole step here and returns True."""
        for key, (a, b) in products.items():
            np.dot(a.T, b, out=grads[key])
        return False

    def _clip(self) -> None:
        if self.clipnorm is not None:
            for group in self._groups:
                for g in group.grad_views:
                    norm = math.sqrt(float(np.vdot(g, g)))
                    if norm > self.clipnorm:
                        g *= self.clipnorm / norm
        elif self.clipvalue is not None:
            for group in self._groups:
                np.clip(group.grad, -self.clipvalue, self.clipvalue, out=group.grad)
        elif self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(np.vdot(group.grad, group.grad)) for group in self._groups))
            if norm > self.global_clipnorm:
                for group in self._groups:
                    group.grad *= self.global_clipnorm / norm

    def get_config(self) -> dict:
        """The constructor's arguments (a schedule as its `{"name": ...}` mapping): `OPTIMIZERS.build(name, **config)`
        makes the same optimizer, without its state."""
        names = list(inspect.signature(type(self)).parameters)
        lr = self._lr if self._schedule is None else serialize(self._schedule)
        return {name: lr if name == "learning_rate" else getattr(self, name) for name in names}

    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of every slot as "<param key>/<slot name>", plus "iterations", "learning_rate" when it is fixed
        (not a schedule) and any `scalar_state`; all numpy arrays, ready for HDF5."""
        state = {key: view.copy() for key, view in self._slot_views.items()}
        state["iterations"] = np.array(self.iterations, dtype=np.int64)
        if self._schedule is None:
            state["learning_rate"] = np.array(self._lr, dtype=np.float64)
        for name in self.scalar_state:
            state[name] = np.array(getattr(self, name), dtype=np.float64)
        return state

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned, exactly: resumed training is bit-identical to uninterrupted training.

        Slots are copied into the existing arrays; given before `build`, they are kept until `build` runs.

        Raises:
            CheckpointError: a missing or unexpected key, or a slot of the wrong shape.
        """
        missing = [k for k in ("iterations", *self.scalar_state) if k not in state]
        if missing:
            raise CheckpointError(f"{type(self).__name__} state lacks {missing}")
        self.iterations = int(np.asarray(state["iterations"]))
        if "learning_rate" in state:
            self.set_learning_rate(float(np.asarray(state["learning_rate"])))
        for name in self.scalar_state:
            setattr(self, name, float(np.asarray(state[name])))
        scalars = {"iterations", "learning_rate", *self.scalar_state}
        slot_state = {k: v for k, v in state.items() if k not in scalars}
        if self._groups is None:
            self._pending_slots = slot_state
        else:
            self._restore_slots(slot_state)

    def _restore_slots(self, slot_state: dict) -> None:
        missing = sorted(self._slot_views.keys() - slot_state.keys())
        unexpected = sorted(slot_state.keys() - self._slot_views.keys())
        if missing or unexpected:
            raise CheckpointError(
                f"{type(self).__name__} state does not match its parameters: missing {missing}, "
                f"unexpected {unexpected}"
            )
        for key, view in self._slot_views.items():
            value = np.asarray(slot_state[key])
            if value.shape != view.shape:
                raise CheckpointError(f"optimizer slot {key!r} has shape {value.shape} in the state, {view.shape} here")
            np.copyto(view, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"
