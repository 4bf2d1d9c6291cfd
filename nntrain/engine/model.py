"""Models: a graph of layers (engine/graph.py) compiled with a loss per output, metrics and an optimizer, and the
training and test steps on one batch. Sequential is the special case of a chain. The loop over batches and epochs
is the training package's (nntrain/training/loop.py), not the model's."""

from __future__ import annotations

import numpy as np

from nntrain.engine import summary as summary_table
from nntrain.engine.graph import Graph, Node
from nntrain.engine.layer import Layer, _snake, format_shape
from nntrain.engine.layers import Dense, Input
from nntrain.engine.losses import LOSSES
from nntrain.engine.metrics import resolve_metric
from nntrain.engine.optimizers import OPTIMIZERS
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError, DataError, ShapeError
from nntrain.registry import did_you_mean

__all__ = ["Model", "Node", "Sequential", "Tracker", "assign_names"]


class Model(Graph):
    """A functional model: a Graph (see there for the arguments) that `compile` gives losses, metrics and an
    optimizer; then `train_on_batch` takes one optimizer step and `test_on_batch` evaluates one batch."""

    def __init__(self, inputs: list[Input], nodes: list[Node], outputs: list[str], name: str = "model",
                 seed: int = 0, dtype="float32"):
        super().__init__(inputs, nodes, outputs, name=name, seed=seed, dtype=dtype)
        self.compiled = False

    # --- compile --------------------------------------------------------------------------------------
    def compile(self, loss, optimizer, metrics=None, loss_weights=None) -> None:
        """Attach losses (one, or a dict by output name), an optimizer and metrics (a list, or a dict by
        output name). loss_weights: dict by output name or list; total loss = weighted sum."""
        names = self.output_names
        self.losses = self._resolve_losses(loss)
        self.loss_weights = self._resolve_loss_weights(loss_weights)
        self.optimizer = OPTIMIZERS.build(optimizer)
        # The optimizer updates the model's flat weight buffer with the flat gradient buffer directly.
        self.optimizer.build(self.trainable_params, flat_params=self.flat_params, flat_grads=self.flat_grads)
        self._regularized = [layer for layer in self.layers if layer.regularized]
        self._plan_deferred_products()
        self._plan_fused_losses()
        per_output = ([list(metrics.get(n, [])) for n in names] if isinstance(metrics, dict)
                      else [list(metrics or []) for _ in names])
        self.metrics = [[resolve_metric(m, loss_obj.registered_name, (None, *self.shapes[name])) for m in specs]
                        for name, loss_obj, specs in zip(names, self.losses, per_output)]
        self.compiled = True

    def _resolve_losses(self, loss) -> list:
        names = self.output_names
        if not (isinstance(loss, dict) and "name" not in loss):
            return [LOSSES.build(loss) for _ in names]
        unknown = [k for k in loss if k not in names]  # a mapping by output name: one loss per output
        if unknown:
            raise ConfigError(f"loss given for unknown output(s) {unknown}{did_you_mean(unknown[0], names)}; "
                              f"outputs are {names}")
        missing = [n for n in names if n not in loss]
        if missing:
            raise ConfigError(f"no loss for output(s) {missing}; give one loss per output {names}")
        return [LOSSES.build(loss[n]) for n in names]

    def _resolve_loss_weights(self, loss_weights) -> list[float]:
        names = self.output_names
        if loss_weights is None:
            return [1.0] * len(names)
        if isinstance(loss_weights, dict):
            unknown = [k for k in loss_weights if k not in names]
            if unknown:
                raise ConfigError(f"loss_weights names unknown output(s) {unknown}; outputs are {names}")
            return [float(loss_weights.get(n, 1.0)) for n in names]
        if len(loss_weights) != len(names):
            raise ConfigError(f"loss_weights has {len(loss_weights)} values for {len(names)} outputs {names}")
        return [float(w) for w in loss_weights]

    def _plan_fused_losses(self) -> None:
        """A softmax/sigmoid output followed by its cross-entropy is trained from the logits: stable and cheap.
        The output layer then emits logits, and predictions and metrics apply its activation themselves."""
        self._train_losses, self._fused_activations = [], []
        for name, loss in zip(self.output_names, self.losses):
            layer = self.get_layer(name)
            act = getattr(layer, "activation", None)
            fuse = (loss.fuses(act) and self.consumers.get(name, 0) == 0 and layer.name not in self.shared
                    # an activity penalty applies to the activated output, which a fused layer never computes
                    and getattr(layer, "activity_regularizer", None) is None)
            layer.emit_logits = fuse
            self._train_losses.append(loss.with_logits() if fuse else loss)
            self._fused_activations.append(act if fuse else None)

    def _plan_deferred_products(self) -> None:
        """Ask the optimizer which gradient products (a.T @ b, say a Dense kernel's x.T @ dz) it takes unmultiplied,
        to fuse them with its step, and have those layers keep the factors instead of writing the gradient. A param
        with a penalty is never offered: the penalty's gradient is added to its gradient after the backward pass."""
        offered = {}
        for layer in self.layers:
            layer.deferred = {}
            # a shared layer's backward runs once per node: its gradient is summed, never left as factors
            if layer.trainable and not layer.regularized and layer.name not in self.shared:
                offered.update({f"{layer.name}/{key}": (layer, key) for key in layer.product_params})
        taken = self.optimizer.fused_products({k: self.trainable_params[k] for k in offered})
        self._deferred = [(key, *offered[key]) for key in taken]
        for _, layer, key in self._deferred:
            layer.deferred[key] = None

    def _take_products(self) -> dict:
        """{"<layer>/<param>": (a, b)}: the gradients a.T @ b that the backward pass left as factors this step."""
        products = {}
        for flat_key, layer, key in self._deferred:
            factors = layer.deferred[key]
            if factors is not None:
                products[flat_key] = factors
                layer.deferred[key] = None  # not kept past the step
        return products

    # --- steps ----------------------------------------------------------------------------------------
    def train_on_batch(self, xs: list, ys: list, sample_weight, tracker: Tracker) -> None:
        """One optimizer step on a batch; adds the batch's loss and metric values into `tracker`."""
        outs, backs = self.forward(xs, training=True)
        d_outputs = self._losses_and_grads(outs, ys, sample_weight, tracker, need_grads=True)
        self.backward(backs, d_outputs)  # every layer writes its gradients: no zeroing beforehand
        for layer in self._regularized:
            layer.add_penalty_grads()
        products = self._take_products() if self._deferred else None
        self.optimizer.apply(self.trainable_params, self.trainable_grads, products)

    def test_on_batch(self, xs: list, ys: list, sample_weight, tracker: Tracker) -> None:
        """Adds the loss and metric values of a batch, in inference mode, into `tracker`."""
        outs, _ = self.forward(xs, training=False)
        self._losses_and_grads(outs, ys, sample_weight, tracker, need_grads=False)

    def predict_on_batch(self, xs: list) -> list:
        """Inference-mode outputs (activations applied even where the loss is fused)."""
        outs, _ = self.forward(xs, training=False)
        if not self.compiled:
            return outs
        return [act(o)[0] if act is not None else o for o, act in zip(outs, self._fused_activations)]

    def _losses_and_grads(self, outs, ys, sample_weight, tracker, need_grads):
        batch = len(ys[0])
        d_outputs = []
        total = 0.0
        for i, (out, y, loss, w) in enumerate(zip(outs, ys, self._train_losses, self.loss_weights)):
            # check_data has checked the labels' shape for the whole data set: no check per batch
            per_sample, back = loss.forward_checked(y, out)
            if sample_weight is None:
                s = float(np.add.reduce(per_sample, dtype=np.float64))
            else:
                s = float((per_sample * sample_weight).sum(dtype=np.float64))
            tracker.output_loss[i] += s
            total += w * s
            if need_grads:
                # without sample weights every sample weighs the same: a float, not a (batch,) array
                d_outputs.append(back(w / batch) if sample_weight is None else
                                 back((sample_weight * (w / batch)).astype(out.dtype)))
        if self._regularized:
            total += self.penalty() * batch
        tracker.loss += total
        tracker.count += batch
        for ms, y, out, act in zip(self.metrics, ys, outs, self._fused_activations):
            if ms:
                p = out if act is None else act(out)[0]
                for m in ms:  # weighted like the loss (Keras passes sample_weight to compiled metrics too)
                    m.update(y, p) if sample_weight is None else m.update(y, p, sample_weight)
        return d_outputs

    def penalty(self) -> float:
        """The regularization penalty of every layer, as added to the loss."""
        return sum(layer.penalty() for layer in self._regularized)

    def new_tracker(self) -> Tracker:
        """Reset the metrics and start new sums for an epoch (or an evaluation)."""
        for ms in self.metrics:
            for m in ms:
                m.reset()
        return Tracker(self)

    # --- checks ---------------------------------------------------------------------------------------
    def check_data(self, xs: list, ys: list | None = None, what: str = "the data") -> None:
        """Reject data that cannot fit before any training: wrong widths, NaN/inf, labels vs the loss."""
        n = None
        for name, x in zip(self.input_names, xs):
            self._check_input(name, x, what)
            if n is not None and len(x) != n:
                raise ShapeError(f"{what}: inputs have different numbers of rows ({n} and {len(x)})")
            n = len(x)
        if ys is None:
            return
        for name, y, loss in zip(self.output_names, ys, self.losses):
            y = np.asarray(y)
            if len(y) != n:
                raise ShapeError(f"{what}: {n} input rows but {len(y)} label rows for output `{name}`")
            if y.dtype.kind == "f" and not np.isfinite(y).all():
                raise DataError(f"{what}: labels for output `{name}` contain NaN or infinite values")
            try:
                loss.check(y.shape, (n, *self.shapes[name]))
                loss.check_values(y, (n, *self.shapes[name]))
            except (ShapeError, DataError) as exc:
                raise type(exc)(f"{what}: output `{name}`: {exc}") from None

    def _check_input(self, name: str, x, what: str) -> None:
        expected = self.shapes[name]
        got = tuple(x.shape[1:])
        if len(got) != len(expected) or not all(e is None or e == g for e, g in zip(expected, got)):
            raise ShapeError(f"{what}: model input `{name}` expects examples of shape "
                             f"{format_shape(expected)}, got {format_shape(got)}")
        if isinstance(x, np.ndarray) and x.dtype.kind == "f" and not np.isfinite(x).all():
            row = int(np.argwhere(~np.isfinite(x.reshape(len(x), -1)))[0][0])
            raise DataError(f"{what}: input `{name}` has NaN or infinite values (first at row {row}); "
                            f"clean or impute them first")
        if isinstance(x, MultiHot):
            for node in self.nodes:
                if name in node.inbound and not isinstance(node.layer, Dense):
                    raise ConfigError(f"layer `{node.layer.name}` ({type(node.layer).__name__}) cannot read the "
                                      f"multi-hot input `{name}`; only Dense reads multi-hot data directly")

    # --- summary --------------------------------------------------------------------------------------
    def summary_rows(self) -> list[tuple[str, str, str, int, str]]:
        """(layer name, type, output shape, params, connected to) per layer, in order (engine/summary.py)."""
        return summary_table.rows(self)

    def summary(self) -> str:
        """Keras-style plain-text table with exact param counts (engine/summary.py)."""
        return summary_table.text(self)


class Tracker:
    """Exact epoch sums: loss and per-output losses over all samples, and the model's metrics."""

    def __init__(self, model: Model):
        self.model = model
        self.loss = 0.0
        self.count = 0
        self.output_loss = [0.0] * len(model.output_names)

    def result(self, prefix: str = "") -> dict[str, float]:
        """{"loss": ..., per-output losses (several outputs), metrics...}, each key led by `prefix` ("val_")."""
        m = self.model
        n = max(self.count, 1)
        out = {f"{prefix}loss": self.loss / n}
        multi = len(m.output_names) > 1
        if multi:
            for name, s in zip(m.output_names, self.output_loss):
                out[f"{prefix}{name}_loss"] = s / n
        for name, ms in zip(m.output_names, m.metrics):
            for metric in ms:
                key = f"{name}_{metric.name}" if multi else metric.name
                out[f"{prefix}{key}"] = float(metric.result())
        return out


def assign_names(layers: list[Layer]) -> None:
    """Layers without a given name get dense, dense_1, ... counted within this model, so the same config
    always gives the same names (checkpoints are keyed by them)."""
    taken = {l.name for l in layers if not l.auto_named}
    counts: dict[str, int] = {}
    for layer in layers:
        if not layer.auto_named:
            continue
        prefix = _snake(type(layer).__name__)
        while True:
            n = counts.get(prefix, 0)
            counts[prefix] = n + 1
            name = prefix if n == 0 else f"{prefix}_{n}"
            if name not in taken:
                break
        layer.name = name
        taken.add(name)


def Sequential(layers: list[Layer], input_shape=None, name: str = "sequential", seed: int = 0,
               dtype="float32") -> Model:
    """A chain of layers; the input size is inferred layer to layer.

    The first layer may be an Input; otherwise `input_shape` (per example, no batch dim) is required.
    """
    layers = list(layers)
    if layers and isinstance(layers[0], Input):
        inp = layers.pop(0)
    else:
        if input_shape is None:
            raise ConfigError("a Sequential model needs an input shape: start with Input(shape=...) or pass "
                              "input_shape")
        inp = Input(shape=input_shape, name="input")
    if not layers:
        raise ConfigError("a Sequential model needs at least one layer after its input")
    assign_names(layers)
    nodes, prev = [], inp.name
    for layer in layers:
        if isinstance(layer, Input):
            raise ConfigError(f"Input `{layer.name}` can only be the first layer of a Sequential model",
                              layer=layer.name)
        if layer.multi_input:
            raise ConfigError(f"layer `{layer.name}` ({type(layer).__name__}) merges several tensors and "
                              f"needs a functional model", layer=layer.name)
        nodes.append(Node(layer, [prev]))
        prev = layer.name
    return Model([inp], nodes, [prev], name=name, seed=seed, dtype=dtype)
