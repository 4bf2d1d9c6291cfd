"""Models: a directed acyclic graph of layers with named inputs and outputs. Sequential is the special case
of a chain. The model owns the forward/backward pass, the losses per output and the metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nntrain.engine.layer import Layer, _snake, format_shape
from nntrain.engine.layers import LAYERS, Dense, Input
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError, DataError, ShapeError
from nntrain.limits import weights_budget
from nntrain.registry import did_you_mean

STEP_IN_PRODUCT_FROM = 1 << 16  # kernel weights from which plain SGD steps a Dense kernel inside its product


@dataclass
class Node:
    """A layer and the names of the tensors it reads (model inputs or other layers' outputs)."""

    layer: Layer
    inbound: list[str]


def _take(x, idx):
    return x.take(idx) if isinstance(x, MultiHot) else np.take(x, idx, axis=0)


def _num_rows(x) -> int:
    return len(x)


class Model:
    """A functional model: named inputs, layers wired by name, one or more named outputs.

    Args:
        inputs: the Input layers (their names are the input names).
        nodes: each layer with the names of what it reads, in any order.
        outputs: names of the layers whose outputs are the model's outputs.
        seed: drives every random choice (initializers, dropout) through one numpy Generator.
        dtype: float32 (default) or float64 (gradient checks).

    Raises:
        ConfigError: a cycle, an unknown reference, an unused input or layer, a duplicate name.
        ShapeError: a layer whose input shape cannot fit, naming the layer and both shapes.
    """

    def __init__(self, inputs: list[Input], nodes: list[Node], outputs: list[str], name: str = "model",
                 seed: int = 0, dtype="float32"):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        if not inputs:
            raise ConfigError("a model needs at least one input")
        if not outputs:
            raise ConfigError("a model needs at least one output")
        self.inputs = list(inputs)
        self.input_names = [i.name for i in inputs]
        self.output_names = list(outputs)
        self.nodes = self._sort(nodes)
        with weights_budget():  # every weight is checked against what the ones before it already take
            self._build()
        self.compiled = False

    # --- graph ----------------------------------------------------------------------------------------
    def _sort(self, nodes: list[Node]) -> list[Node]:
        """Topological order, rejecting duplicates, unknown references, cycles and unused parts."""
        by_name: dict[str, Node] = {}
        for inp in self.inputs:
            if inp.name in by_name:
                raise ConfigError(f"two inputs are named `{inp.name}`; names must be unique", layer=inp.name)
            by_name[inp.name] = Node(inp, [])
        for node in nodes:
            if node.layer.name in by_name:
                raise ConfigError(f"two layers are named `{node.layer.name}`; layer names must be unique",
                                  layer=node.layer.name)
            by_name[node.layer.name] = node
        known = list(by_name)
        for node in nodes:
            if not node.inbound:
                raise ConfigError(f"layer `{node.layer.name}` has no inputs; say which tensor it reads",
                                  layer=node.layer.name)
            for ref in node.inbound:
                if ref not in by_name:
                    raise ConfigError(f"layer `{node.layer.name}` reads `{ref}`, which is neither an input nor a "
                                      f"layer{did_you_mean(ref, known)}", layer=node.layer.name)
            if len(node.inbound) > 1 and not node.layer.multi_input:
                raise ConfigError(f"layer `{node.layer.name}` ({type(node.layer).__name__}) takes one input, got "
                                  f"{len(node.inbound)}: {node.inbound}; merge them first with Concatenate or Add",
                                  layer=node.layer.name)
        for out in self.output_names:
            if out not in by_name:
                raise ConfigError(f"output `{out}` is not a layer{did_you_mean(out, known)}", layer=out)
        order: list[Node] = []
        state: dict[str, int] = {}  # 1 = visiting, 2 = done

        def visit(name: str, path: list[str]):
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = path[path.index(name):] + [name]
                raise ConfigError(f"the layers form a cycle: {' -> '.join(cycle)}", layer=name)
            state[name] = 1
            for ref in by_name[name].inbound:
                visit(ref, path + [name])
            state[name] = 2
            order.append(by_name[name])

        for out in self.output_names:
            visit(out, [])
        for inp in self.input_names:
            if inp not in state:
                raise ConfigError(f"input `{inp}` is not used by any path to the outputs {self.output_names}",
                                  layer=inp)
        for node in nodes:
            if node.layer.name not in state:
                raise ConfigError(f"layer `{node.layer.name}` does not lead to any output {self.output_names}",
                                  layer=node.layer.name)
        return order

    def _build(self) -> None:
        shapes: dict[str, tuple] = {}
        consumers: dict[str, int] = {}
        for node in self.nodes:
            layer = node.layer
            for ref in node.inbound:
                consumers[ref] = consumers.get(ref, 0) + 1
            if isinstance(layer, Input):
                layer.build(None, self.rng, self.dtype)
            else:
                in_shape = [shapes[r] for r in node.inbound] if layer.multi_input else shapes[node.inbound[0]]
                layer.build(in_shape, self.rng, self.dtype)
                layer.needs_input_grad = not all(r in self.input_names for r in node.inbound)
            shapes[layer.name] = layer.output_shape
        self.shapes = shapes
        self._consumers = consumers
        self.layers = [n.layer for n in self.nodes]
        self._layer_by_name = {layer.name: layer for layer in self.layers}
        slot = {n.layer.name: i for i, n in enumerate(self.nodes)}
        self._plan = [
            (n.layer, [slot[r] for r in n.inbound], i)
            for i, n in enumerate(self.nodes) if not isinstance(n.layer, Input)
        ]
        self._input_slots = [slot[n] for n in self.input_names]
        self._output_slots = [slot[n] for n in self.output_names]
        # The backward walk, precomputed: per layer, the input slots that take a gradient (model inputs take none).
        model_inputs = set(self._input_slots)
        self._backward_plan = [
            (layer, layer.multi_input, [i if i not in model_inputs else None for i in ins], out)
            for layer, ins, out in reversed(self._plan)
        ]
        self._pack_params()

    def _pack_params(self) -> None:
        """Make every trainable param and grad a view into one flat buffer, so zeroing the gradients is one
        call and optimizers may treat all weights as one vector."""
        trainable = [(l, k) for l in self.layers if l.trainable for k in l.params]
        sizes = [l.params[k].size for l, k in trainable]
        self._flat_params = np.zeros(sum(sizes), self.dtype)
        self._flat_grads = np.zeros(sum(sizes), self.dtype)
        offset = 0
        self.trainable_params: dict[str, np.ndarray] = {}
        self.trainable_grads: dict[str, np.ndarray] = {}
        self._flat_slices: dict[str, slice] = {}
        for (layer, key), size in zip(trainable, sizes):
            self._flat_slices[f"{layer.name}/{key}"] = slice(offset, offset + size)
            shape = layer.params[key].shape
            p = self._flat_params[offset:offset + size].reshape(shape)
            p[...] = layer.params[key]
            layer.params[key] = p
            layer.grads[key] = self._flat_grads[offset:offset + size].reshape(shape)
            self.trainable_params[f"{layer.name}/{key}"] = p
            self.trainable_grads[f"{layer.name}/{key}"] = layer.grads[key]
            offset += size

    def get_layer(self, name: str) -> Layer:
        if name not in self._layer_by_name:
            raise ConfigError(f"no layer named `{name}`{did_you_mean(name, list(self._layer_by_name))}")
        return self._layer_by_name[name]

    @property
    def input_shapes(self) -> dict[str, tuple]:
        return {n: self.shapes[n] for n in self.input_names}

    @property
    def output_shapes(self) -> dict[str, tuple]:
        return {n: self.shapes[n] for n in self.output_names}

    # --- forward / backward ---------------------------------------------------------------------------
    def as_input_list(self, x) -> list:
        """A single array (one-input models) or a dict by input name -> list in input order.

        Arrays for float inputs are cast to the model's dtype, so float64 data still trains in float32.
        """
        if isinstance(x, dict):
            missing = [n for n in self.input_names if n not in x]
            if missing:
                raise ShapeError(f"the data has no array for model input(s) {missing}; it has {sorted(x)}")
            xs = [x[n] for n in self.input_names]
        elif len(self.input_names) != 1:
            raise ShapeError(f"this model has inputs {self.input_names}; give the data as a dict by input name")
        else:
            xs = [x]
        return [x if isinstance(x, MultiHot) or not inp.input_dtype.startswith("float")
                else np.asarray(x).astype(self.dtype, copy=False) for inp, x in zip(self.inputs, xs)]

    def as_output_list(self, y) -> list:
        if isinstance(y, dict):
            missing = [n for n in self.output_names if n not in y]
            if missing:
                raise ShapeError(f"the labels have no array for model output(s) {missing}; they have {sorted(y)}")
            return [y[n] for n in self.output_names]
        if len(self.output_names) != 1:
            raise ShapeError(f"this model has outputs {self.output_names}; give the labels as a dict by output name")
        return [y]

    def forward(self, xs: list, training: bool):
        """Run the graph. xs: arrays in input order. Returns (outputs in output order, backward closures)."""
        vals: list = [None] * len(self.nodes)
        for s, x in zip(self._input_slots, xs):
            vals[s] = x
        backs = []
        for layer, ins, out in self._plan:
            y, back = layer.forward([vals[i] for i in ins] if layer.multi_input else vals[ins[0]], training)
            vals[out] = y
            backs.append(back)
        return [vals[s] for s in self._output_slots], backs

    def backward(self, backs, d_outputs: list) -> None:
        """Propagate dL/d(output) through the graph: each layer writes its params' gradients, and gradients of a
        tensor read by several layers (fan-out) are summed before flowing further back."""
        grads: list = [None] * len(self.nodes)
        for s, d in zip(self._output_slots, d_outputs):
            grads[s] = d if grads[s] is None else grads[s] + d
        for (layer, multi, targets, out), back in zip(self._backward_plan, reversed(backs)):
            g = grads[out]
            if g is None:  # no gradient reaches this layer: its params get none either (gradients are written,
                for grad in layer.grads.values():  # not added, so clear what the last step left)
                    grad.fill(0)
                continue
            dx = back(g)
            if dx is None:
                continue
            for i, d in zip(targets, dx if multi else (dx,)):
                if d is not None and i is not None:
                    grads[i] = d if grads[i] is None else grads[i] + d

    def predict_on_batch(self, xs: list) -> list:
        """Inference-mode outputs (activations applied even where the loss is fused)."""
        outs, _ = self.forward(xs, training=False)
        return self._activate(outs)

    def _activate(self, outs: list) -> list:
        if not self.compiled:
            return outs
        return [act(o)[0] if act is not None else o for o, act in zip(outs, self._fused_activations)]

    # --- compile / steps ------------------------------------------------------------------------------
    def compile(self, loss, optimizer, metrics=None, loss_weights=None) -> None:
        """Attach losses (one, or a dict by output name), an optimizer and metrics (a list, or a dict by
        output name). loss_weights: dict by output name or list; total loss = weighted sum."""
        from nntrain.engine.losses import LOSSES
        from nntrain.engine.metrics import resolve_metric
        from nntrain.engine.optimizers import OPTIMIZERS

        names = self.output_names
        if isinstance(loss, dict) and "name" not in loss:  # one loss per output
            unknown = [k for k in loss if k not in names]
            if unknown:
                raise ConfigError(f"loss given for unknown output(s) {unknown}{did_you_mean(unknown[0], names)}; "
                                  f"outputs are {names}")
            missing = [n for n in names if n not in loss]
            if missing:
                raise ConfigError(f"no loss for output(s) {missing}; give one loss per output {names}")
            losses = [LOSSES.build(loss[n]) for n in names]
        else:
            losses = [LOSSES.build(loss) for _ in names]
        if loss_weights is None:
            weights = [1.0] * len(names)
        elif isinstance(loss_weights, dict):
            unknown = [k for k in loss_weights if k not in names]
            if unknown:
                raise ConfigError(f"loss_weights names unknown output(s) {unknown}; outputs are {names}")
            weights = [float(loss_weights.get(n, 1.0)) for n in names]
        else:
            if len(loss_weights) != len(names):
                raise ConfigError(f"loss_weights has {len(loss_weights)} values for {len(names)} outputs {names}")
            weights = [float(w) for w in loss_weights]
        if isinstance(metrics, dict):
            per_output = [list(metrics.get(n, [])) for n in names]
        else:
            per_output = [list(metrics or []) for _ in names]
        self.losses = losses
        self.loss_weights = weights
        self.optimizer = OPTIMIZERS.build(optimizer)
        # The optimizer updates the model's flat weight buffer with the flat gradient buffer directly.
        self.optimizer.build(self.trainable_params, flat_params=self._flat_params, flat_grads=self._flat_grads)
        self._regularized = [layer for layer in self.layers if layer.regularized]
        self._plan_plain_steps()
        # A softmax/sigmoid output followed by its cross-entropy is computed from the logits: stable and cheap.
        self._train_losses, self._fused_activations = [], []
        for name, loss_obj in zip(names, losses):
            layer = self.get_layer(name)
            act = getattr(layer, "activation", None)
            fuse = (
                loss_obj.fuses_with is not None
                and not getattr(loss_obj, "from_logits", False)
                and act is not None
                and act.name == loss_obj.fuses_with
                and getattr(act, "axis", -1) == -1
                and self._consumers.get(name, 0) == 0
                # an activity penalty applies to the activated output, which a fused layer never computes
                and getattr(layer, "activity_regularizer", None) is None
            )
            layer.emit_logits = fuse
            if fuse:
                cfg = {**loss_obj.get_config(), "from_logits": True}
                self._train_losses.append(type(loss_obj)(**cfg))
                self._fused_activations.append(act)
            else:
                self._train_losses.append(loss_obj)
                self._fused_activations.append(None)
        self.metrics = []
        for name, loss_obj, mnames in zip(names, losses, per_output):
            shape = (None, *self.shapes[name])
            self.metrics.append([resolve_metric(m, loss_obj.registered_name, shape) for m in mnames])
        self.compiled = True

    def _plan_plain_steps(self) -> None:
        """Which Dense kernels take a plain SGD step inside their gradient product (engine/blas.py), and the ranges
        of the flat weights the optimizer steps instead. Only kernels of STEP_IN_PRODUCT_FROM weights or more gain:
        below that the call costs more than the two passes it saves. A kernel with a penalty keeps its gradient
        (the penalty's gradient is added to it after the backward pass). A kernel fed multi-hot rows takes the
        step itself too, after its sparse gradient product (Dense)."""
        self._steps_in_backward = [
            layer for layer in self.layers
            if isinstance(layer, Dense) and layer.trainable and not layer.regularized
            and layer.params["kernel"].size >= STEP_IN_PRODUCT_FROM
        ]
        stepped = {f"{layer.name}/kernel" for layer in self._steps_in_backward}
        ranges, start = [], 0
        for key, r in self._flat_slices.items():  # in flat order
            if key in stepped:
                if start < r.start:
                    ranges.append(slice(start, r.start))
                start = r.stop
        if start < self._flat_params.size:
            ranges.append(slice(start, self._flat_params.size))
        self._plain_ranges = ranges

    def penalty(self) -> float:
        return sum(layer.penalty() for layer in self.layers if layer.regularized)

    def metric_names(self) -> list[str]:
        """History keys in order: loss, per-output losses (several outputs), then metrics."""
        multi = len(self.output_names) > 1
        keys = ["loss"]
        if multi:
            keys += [f"{n}_loss" for n in self.output_names]
        for name, ms in zip(self.output_names, self.metrics):
            keys += [f"{name}_{m.name}" if multi else m.name for m in ms]
        return keys

    def train_on_batch(self, xs: list, ys: list, sample_weight, tracker: "Tracker") -> None:
        """One optimizer step on a batch; adds the batch's loss and metric values into `tracker`."""
        outs, backs = self.forward(xs, training=True)
        d_outputs = self._losses_and_grads(outs, ys, sample_weight, tracker, need_grads=True)
        lr = self.optimizer.plain_rate() if self._steps_in_backward else None
        stepping = self._steps_in_backward if lr is not None else ()
        for layer in stepping:  # w -= lr * g: these large kernels take it during the backward pass
            layer.sgd_learning_rate = lr
        try:
            self.backward(backs, d_outputs)  # every layer writes its gradients: no zeroing beforehand
        finally:
            for layer in stepping:
                layer.sgd_learning_rate = None
        for layer in self._regularized:
            layer.add_penalty_grads()
        if lr is None:
            self.optimizer.apply(self.trainable_params, self.trainable_grads)
        else:  # the optimizer steps the weights no layer stepped
            self.optimizer.apply_plain(self._plain_ranges, lr)

    def test_on_batch(self, xs: list, ys: list, sample_weight, tracker: "Tracker") -> None:
        outs, _ = self.forward(xs, training=False)
        self._losses_and_grads(outs, ys, sample_weight, tracker, need_grads=False)

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
                for m in ms:
                    m.update(y, p)
        return d_outputs

    def new_tracker(self) -> "Tracker":
        for ms in self.metrics:
            for m in ms:
                m.reset()
        return Tracker(self)

    # --- checks ---------------------------------------------------------------------------------------
    def check_data(self, xs: list, ys: list | None = None, what: str = "the data") -> None:
        """Reject data that cannot fit before any training: wrong widths, NaN/inf, labels vs the loss."""
        n = None
        for name, x in zip(self.input_names, xs):
            expected = self.shapes[name]
            got = tuple(x.shape[1:])
            ok = len(got) == len(expected) and all(e is None or e == g for e, g in zip(expected, got))
            if not ok:
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
            if n is not None and _num_rows(x) != n:
                raise ShapeError(f"{what}: inputs have different numbers of rows ({n} and {_num_rows(x)})")
            n = _num_rows(x)
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

    # --- weights, config, summary ---------------------------------------------------------------------
    def get_weights(self) -> dict[str, dict[str, np.ndarray]]:
        """Copies of every layer's params and state, by layer name."""
        return {l.name: l.get_weights() for l in self.layers if l.params or l.state}

    def set_weights(self, weights: dict[str, dict[str, np.ndarray]]) -> None:
        for name, w in weights.items():
            self.get_layer(name).set_weights(w)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "inputs": [i.get_config() for i in self.inputs],
            "layers": [
                {"class_name": type(n.layer).registered_name, "config": n.layer.get_config(), "inbound": n.inbound}
                for n in self.nodes if not isinstance(n.layer, Input)
            ],
            "outputs": list(self.output_names),
        }

    @classmethod
    def from_config(cls, config: dict, seed: int = 0, dtype="float32") -> "Model":
        inputs = [Input(**c) for c in config["inputs"]]
        nodes = [Node(LAYERS.get(d["class_name"])(**d["config"]), list(d["inbound"])) for d in config["layers"]]
        return cls(inputs, nodes, config["outputs"], name=config.get("name", "model"), seed=seed, dtype=dtype)

    def count_params(self) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts, as Keras's summary reports them."""
        trainable = sum(v.size for l in self.layers if l.trainable for v in l.params.values())
        frozen = sum(v.size for l in self.layers if not l.trainable for v in l.params.values())
        frozen += sum(v.size for l in self.layers for v in l.state.values())
        return int(trainable), int(frozen)

    def summary_rows(self) -> list[tuple[str, str, str, int, str]]:
        """(layer name, type, output shape, params, connected to) per layer, in order."""
        rows = []
        for node in self.nodes:
            layer = node.layer
            rows.append((layer.name, type(layer).__name__, format_shape(layer.output_shape),
                         layer.count_params(), ", ".join(node.inbound)))
        return rows

    def summary(self) -> str:
        """Keras-style plain-text table with exact param counts."""
        rows = self.summary_rows()
        functional = len(self.input_names) > 1 or any(len(n.inbound) > 1 for n in self.nodes) or \
            any(c > 1 for c in self._consumers.values())
        head = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
        if not functional:  # like Keras, a Sequential summary lists no input row
            rows = [r for r in rows if r[1] != "Input"]
        body = [[f"{n} ({t})", s, f"{p:,}"] + ([c] if functional else []) for n, t, s, p, c in rows]
        widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
        line = lambda r: "  ".join(c.rjust(w) if i == 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
        rule = "-" * len(line(head))
        trainable, frozen = self.count_params()
        itemsize = self.dtype.itemsize
        out = [f'Model: "{self.name}"', rule, line(head), rule.replace("-", "=")]
        out += [line(r) for r in body]
        out += [rule,
                f"Total params: {trainable + frozen:,} ({_bytes((trainable + frozen) * itemsize)})",
                f"Trainable params: {trainable:,} ({_bytes(trainable * itemsize)})",
                f"Non-trainable params: {frozen:,} ({_bytes(frozen * itemsize)})"]
        return "\n".join(out)

    # --- training API (the loop lives in nntrain.training) ----------------------------------------------
    def fit(self, x, y, **kwargs):
        """Keras-style fit; see nntrain.training.loop.fit."""
        from nntrain.training.loop import fit

        return fit(self, x, y, **kwargs)

    def evaluate(self, x, y, batch_size: int = 32, sample_weight=None) -> dict[str, float]:
        from nntrain.training.loop import evaluate

        return evaluate(self, x, y, batch_size=batch_size, sample_weight=sample_weight)

    def predict(self, x, batch_size: int = 32):
        from nntrain.training.loop import predict

        return predict(self, x, batch_size=batch_size)


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"


class Tracker:
    """Exact epoch sums: loss and per-output losses over all samples, and the model's metrics."""

    def __init__(self, model: Model):
        self.model = model
        self.loss = 0.0
        self.count = 0
        self.output_loss = [0.0] * len(model.output_names)

    def result(self, prefix: str = "") -> dict[str, float]:
        m = self.model
        n = max(self.count, 1)
        out = {f"{prefix}loss": self.loss / n}
        multi = len(m.output_names) > 1
        if multi:
            for name, s, w in zip(m.output_names, self.output_loss, m.loss_weights):
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
