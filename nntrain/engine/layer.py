"""The Layer base class (hyperparameters in __init__, weights in build(), maths in forward()), the registry of layer
classes, and the checks of constructor arguments that several layers share."""

from __future__ import annotations

import itertools
import re
from typing import Any, Callable

import numpy as np

from nntrain.errors import ConfigError, ShapeError
from nntrain.registry import Registry

Shape = tuple  # one example's shape, without the batch dimension; None for a length known only at run time
Backward = Callable[[np.ndarray], Any]

LAYERS = Registry("layer")  # filled by the modules of engine/layers/

_counters: dict[str, itertools.count] = {}


def unique_name(prefix: str) -> str:
    """dense, dense_1, dense_2... like Keras's automatic layer names."""
    n = next(_counters.setdefault(prefix, itertools.count()))
    return prefix if n == 0 else f"{prefix}_{n}"


def _snake(name: str) -> str:
    # Dense -> dense, BatchNormalization -> batch_normalization, GlobalAveragePooling1D -> global_average_pooling1d
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


class Layer:
    """Base class of every layer.

    Gradients are written, not added: `backward` sets `grads[key]` to dL/dparam of the current step. A layer is one
    node of one model, so its backward runs once per step, and the model needs no pass zeroing the gradients first.
    A gradient that is a product a.T @ b (a Dense kernel's) goes through `set_grad_product`, which lets the model
    hand the two factors to an optimizer that can fuse the product with its step instead.

    Attributes:
        params: trainable arrays by name ("kernel", "bias"); `grads` has the same keys.
        state: non-trainable arrays (BatchNormalization's moving statistics): saved, never optimized.
        trainable: False freezes the layer: no gradients for its params, the optimizer skips it.
        needs_input_grad: set False by the model when the layer reads model inputs only, so backward
            can skip computing dL/dx (it returns None then).
        deferred: the params of `product_params` whose gradient product the model asked to receive unmultiplied
            this step, each with the factors (a, b) of its last backward (None until then).
    """

    multi_input = False  # True for layers fed a list of tensors (Concatenate, Add)
    passes_mask = False  # True where the output keeps the input's per-step mask (Dense, Dropout, Activation)
    makes_mask = False  # True where the layer starts a mask (Embedding(mask_zero=True))
    product_params: tuple[str, ...] = ()  # params whose gradient backward gives through `set_grad_product`

    def __init__(self, name: str | None = None, trainable: bool = True):
        self.auto_named = name is None
        self.name = name or unique_name(_snake(type(self).__name__))
        self.trainable = bool(trainable)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.built = False
        self.dtype = np.dtype(np.float32)
        self.rng: np.random.Generator | None = None
        self.needs_input_grad = True
        self.deferred: dict[str, tuple | None] = {}
        self.input_shape: Shape | list[Shape] | None = None
        self.output_shape: Shape | None = None

    # --- shapes and weights -------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (no batch dim). Raise ShapeError when the input cannot fit."""
        return input_shape

    def build(self, input_shape, rng: np.random.Generator, dtype=np.float32) -> None:
        """Check the input shape, create weights. Subclasses create params in `create_params`."""
        self.output_shape = self.compute_output_shape(input_shape)
        self.input_shape = input_shape
        self.rng = rng
        self.dtype = np.dtype(dtype)
        try:
            self.create_params(input_shape)
        except ShapeError as exc:  # an initializer refusing a weight too large names no layer: this one
            if exc.layer is not None:
                raise
            raise ShapeError(f"layer `{self.name}` ({type(self).__name__}): {exc}", layer=self.name) from None
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.built = True

    def create_params(self, input_shape) -> None:
        """Create `self.params` / `self.state` for this input shape (weightless layers do nothing)."""

    def shape_error(self, input_shape, expected: str) -> ShapeError:
        return ShapeError(
            f"layer `{self.name}` ({type(self).__name__}) cannot take input of shape "
            f"{format_shape(input_shape)}: expected {expected}", layer=self.name
        )

    # --- maths ----------------------------------------------------------------------------------------
    def forward(self, x, training: bool) -> tuple[Any, Backward]:
        """Returns the output and `backward(dy) -> dx`, which also writes dL/dparam into `self.grads`."""
        raise NotImplementedError

    def forward_masked(self, x, training: bool, mask: np.ndarray) -> tuple[Any, Backward]:
        """`forward` for an input whose steps carry a mask, (batch, steps) of bool, True where a step is real
        (Keras's masking). Layers that read masks (pooling, recurrent layers) override it; others ignore it."""
        return self.forward(x, training)

    def output_mask(self, x, mask: np.ndarray | None) -> np.ndarray | None:
        """The mask of this layer's output, given its input and the input's mask: the same one where the layer
        `passes_mask`, else none (the mask stops here)."""
        return mask if self.passes_mask else None

    def set_grad_product(self, key: str, a, b: np.ndarray) -> None:
        """grads[key] = a.T @ b, or, for a deferred param and dense `a`, the factors kept in `deferred[key]`.

        Args:
            a: (rows, fan_in) array, or a multi-hot matrix (its sparse product is always written).
            b: (rows, units) array.
        """
        if self.deferred and key in self.deferred and isinstance(a, np.ndarray):
            self.deferred[key] = (a, b)
        elif isinstance(a, np.ndarray):
            np.dot(a.T, b, out=self.grads[key])  # into the flat gradient buffer: no kernel-sized temporary
        else:
            a.t_matmul(b, out=self.grads[key])

    @property
    def regularized(self) -> bool:
        """Whether `penalty` / `add_penalty_grads` can be non-zero (the model calls them only for such layers)."""
        return False

    def penalty(self) -> float:
        """Regularization penalty of this layer's weights and last activity (0.0 when none)."""
        return 0.0

    def add_penalty_grads(self) -> None:
        """Add the gradient of the weight penalties into `self.grads`."""

    # --- serialization --------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Exactly the constructor's arguments."""
        return {"name": self.name, "trainable": self.trainable}

    def count_params(self) -> int:
        return sum(int(v.size) for v in self.params.values()) + sum(int(v.size) for v in self.state.values())

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of params and state by name."""
        return {k: v.copy() for k, v in {**self.params, **self.state}.items()}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Copy values into the existing arrays (in place, so optimizer and model views stay valid)."""
        own = {**self.params, **self.state}
        for key, value in weights.items():
            if key not in own:
                raise ShapeError(f"layer `{self.name}` has no weight {key!r}; it has {sorted(own)}")
            value = np.asarray(value)
            if value.shape != own[key].shape:
                raise ShapeError(
                    f"layer `{self.name}` weight {key!r} has shape {own[key].shape}, got {value.shape}"
                )
            own[key][...] = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def format_shape(shape) -> str:
    """(None, 28, 28) style, with the batch dimension shown as None like Keras."""
    if isinstance(shape, list):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    dims = ", ".join("None" if d is None else str(d) for d in shape)
    return f"(None, {dims})" if shape else "(None,)"


def positive_int(layer: str, arg: str, value) -> int:
    """`value` if it is a positive int, else ConfigError naming the layer and the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{layer}({arg}=...) expects a positive integer, got {arg}={value!r}")
    return value


def shape_tuple(layer: str, arg: str, value) -> tuple:
    """A per-example shape (an int or a list of positive ints, None or -1 allowed) as a tuple, else ConfigError."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and (d > 0 or d == -1)) for d in value
    ):
        raise ConfigError(f"{layer}({arg}=...) expects a list of positive integers, got {arg}={value!r}")
    return tuple(value)


def config_form(spec):
    """Initializer/regularizer/activation objects back to their config form for get_config()."""
    if spec is None or isinstance(spec, (str, int, float)):
        return spec
    cfg = spec.get_config()
    return {"name": spec.registered_name, **cfg} if cfg else spec.registered_name
