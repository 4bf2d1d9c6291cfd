"""A directed acyclic graph of layers: named inputs, layers wired by name, named outputs.

The graph checks the wiring, puts the layers in topological order, builds them shape by shape, keeps their weights
and gradients as views into one flat buffer each, and runs the forward and backward passes. Losses, metrics and the
optimizer are the Model's (engine/model.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nntrain.engine.layer import Layer, format_shape
from nntrain.engine.layers import LAYERS, Input
from nntrain.engine.limits import weights_budget
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError, ShapeError
from nntrain.registry import did_you_mean


@dataclass
class Node:
    """One use of a layer: the layer, the names of the tensors it reads (model inputs or other nodes' outputs),
    and the name of the tensor it writes (default: the layer's name).

    A layer object in several nodes is a shared layer (Keras's layer sharing: the same weights applied to each
    node's input); every node but the layer's first needs its own `name`.
    """

    layer: Layer
    inbound: list[str]
    name: str | None = None

    def __post_init__(self):
        self.name = self.name or self.layer.name


class Graph:
    """Layers wired by name, built, in the order a forward pass runs them.

    Args:
        inputs: the Input layers (their names are the input names).
        nodes: each layer with the names of what it reads, in any order.
        outputs: names of the layers whose outputs are the graph's outputs.
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
        self.nodes = self._sort(self._index(nodes), nodes)
        with weights_budget():  # every weight is checked against what the ones before it already take
            self._build()

    # --- wiring ---------------------------------------------------------------------------------------
    def _index(self, nodes: list[Node]) -> dict[str, Node]:
        """Every node by name (inputs included), rejecting duplicates and references to nothing."""
        by_name: dict[str, Node] = {}
        for inp in self.inputs:
            if inp.name in by_name:
                raise ConfigError(f"two inputs are named `{inp.name}`; names must be unique", layer=inp.name)
            by_name[inp.name] = Node(inp, [])
        owner: dict[str, Layer] = {}  # layer name -> the layer object (a shared layer appears in several nodes)
        for node in nodes:
            if node.name in by_name:
                raise ConfigError(f"two layers are named `{node.name}`; layer names must be unique", layer=node.name)
            if owner.setdefault(node.layer.name, node.layer) is not node.layer or (
                    node.name != node.layer.name and node.name in owner):
                raise ConfigError(f"two layers are named `{node.layer.name}`; layer names must be unique",
                                  layer=node.layer.name)
            by_name[node.name] = node
        known = list(by_name)
        for node in nodes:
            if not node.inbound:
                raise ConfigError(f"layer `{node.name}` has no inputs; say which tensor it reads", layer=node.name)
            for ref in node.inbound:
                if ref not in by_name:
                    raise ConfigError(f"layer `{node.name}` reads `{ref}`, which is neither an input nor a "
                                      f"layer{did_you_mean(ref, known)}", layer=node.name)
            if len(node.inbound) > 1 and not node.layer.multi_input:
                raise ConfigError(f"layer `{node.name}` ({type(node.layer).__name__}) takes one input, got "
                                  f"{len(node.inbound)}: {node.inbound}; merge them first with Concatenate or Add",
                                  layer=node.name)
        for out in self.output_names:
            if out not in by_name:
                raise ConfigError(f"output `{out}` is not a layer{did_you_mean(out, known)}", layer=out)
        return by_name

    def _sort(self, by_name: dict[str, Node], nodes: list[Node]) -> list[Node]:
        """Topological order (depth first from the outputs), rejecting cycles and parts that lead nowhere."""
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
            if node.name not in state:
                raise ConfigError(f"layer `{node.name}` does not lead to any output {self.output_names}",
                                  layer=node.name)
        return order

    def _build(self) -> None:
        """Build each layer for the shape it reads (a shared layer at its first node; its other nodes must read the
        same shape), then precompute the forward and backward walks."""
        shapes: dict[str, tuple] = {}
        consumers: dict[str, int] = {}
        uses: dict[int, list[Node]] = {}  # id(layer) -> its nodes, in order
        for node in self.nodes:
            layer = node.layer
            for ref in node.inbound:
                consumers[ref] = consumers.get(ref, 0) + 1
            uses.setdefault(id(layer), []).append(node)
            if isinstance(layer, Input):
                layer.build(None, self.rng, self.dtype)
                shapes[node.name] = layer.output_shape
                continue
            in_shape = [shapes[r] for r in node.inbound] if layer.multi_input else shapes[node.inbound[0]]
            if len(uses[id(layer)]) == 1:
                layer.build(in_shape, self.rng, self.dtype)
                layer.needs_input_grad = not all(r in self.input_names for r in node.inbound)
                shapes[node.name] = layer.output_shape
            else:
                shapes[node.name] = self._reuse(layer, node, uses[id(layer)][0], in_shape)
        self.shapes = shapes
        self.consumers = consumers
        self.layers = [n.layer for n in self.nodes if uses[id(n.layer)][0] is n]  # each layer once
        self._layer_by_name = {layer.name: layer for layer in self.layers}
        self._layer_by_name.update({n.name: n.layer for n in self.nodes})
        self.shared = {layer.name: [n.name for n in uses[id(layer)]] for layer in self.layers
                       if len(uses[id(layer)]) > 1}
        slot = {n.name: i for i, n in enumerate(self.nodes)}
        self._plan = [
            (n.layer, [slot[r] for r in n.inbound], i)
            for i, n in enumerate(self.nodes) if not isinstance(n.layer, Input)
        ]
        self._input_slots = [slot[n] for n in self.input_names]
        self._output_slots = [slot[n] for n in self.output_names]
        # The backward walk, precomputed: per layer, the input slots that take a gradient (model inputs take none),
        # and whether it is shared (its gradients are then summed over its nodes, see `backward`).
        model_inputs = set(self._input_slots)
        self._backward_plan = [
            (layer, layer.multi_input, [i if i not in model_inputs else None for i in ins], out,
             layer.name in self.shared)
            for layer, ins, out in reversed(self._plan)
        ]
        self._shared_layers = [l for l in self.layers if l.name in self.shared]
        self._masking = any(layer.makes_mask for layer in self.layers)  # else no mask is ever looked at
        self._pack_params()

    def _reuse(self, layer: Layer, node: Node, first: Node, in_shape) -> tuple:
        """Another node of a built (shared) layer: the same input shape as its first node, since the weights were
        made for that one. Returns the node's output shape."""
        if in_shape != layer.input_shape:
            raise ShapeError(
                f"layer `{node.name}` reuses `{layer.name}` ({type(layer).__name__}), whose weights were built for "
                f"input {format_shape(layer.input_shape)} (from {', '.join(first.inbound)}), but it reads "
                f"{format_shape(in_shape)} from {', '.join(node.inbound)}; a shared layer needs the same input "
                f"shape at every use", layer=node.name)
        if getattr(layer, "activity_regularizer", None) is not None:
            raise ConfigError(f"layer `{node.name}` reuses `{layer.name}`, which has an activity_regularizer; a shared "
                              f"layer cannot have one (its penalty would count only the last use)", layer=node.name)
        if not all(r in self.input_names for r in node.inbound):
            layer.needs_input_grad = True
        return layer.output_shape

    def _pack_params(self) -> None:
        """Make every trainable param and grad a view into one flat buffer, so zeroing the gradients is one
        call and optimizers may treat all weights as one vector."""
        trainable = [(l, k) for l in self.layers if l.trainable for k in l.params]
        sizes = [l.params[k].size for l, k in trainable]
        self.flat_params = np.zeros(sum(sizes), self.dtype)
        self.flat_grads = np.zeros(sum(sizes), self.dtype)
        offset = 0
        self.trainable_params: dict[str, np.ndarray] = {}
        self.trainable_grads: dict[str, np.ndarray] = {}
        for (layer, key), size in zip(trainable, sizes):
            shape = layer.params[key].shape
            p = self.flat_params[offset:offset + size].reshape(shape)
            p[...] = layer.params[key]
            layer.params[key] = p
            layer.grads[key] = self.flat_grads[offset:offset + size].reshape(shape)
            self.trainable_params[f"{layer.name}/{key}"] = p
            self.trainable_grads[f"{layer.name}/{key}"] = layer.grads[key]
            offset += size

    def get_layer(self, name: str) -> Layer:
        if name not in self._layer_by_name:
            raise ConfigError(f"no layer named `{name}`{did_you_mean(name, list(self._layer_by_name))}")
        return self._layer_by_name[name]

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
        """Labels as a list in output order, from an array (one-output models) or a dict by output name."""
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
        if self._masking:
            return self._forward_masked(xs, training)
        vals: list = [None] * len(self.nodes)
        for s, x in zip(self._input_slots, xs):
            vals[s] = x
        backs = []
        for layer, ins, out in self._plan:
            y, back = layer.forward([vals[i] for i in ins] if layer.multi_input else vals[ins[0]], training)
            vals[out] = y
            backs.append(back)
        return [vals[s] for s in self._output_slots], backs

    def _forward_masked(self, xs: list, training: bool):
        """`forward` for a graph with a layer that starts a mask: each node's output mask (batch, steps) travels
        with its output, to the layers that read it (a layer fed several tensors receives none)."""
        vals: list = [None] * len(self.nodes)
        masks: list = [None] * len(self.nodes)
        for s, x in zip(self._input_slots, xs):
            vals[s] = x
        backs = []
        for layer, ins, out in self._plan:
            x = [vals[i] for i in ins] if layer.multi_input else vals[ins[0]]
            mask = None if layer.multi_input else masks[ins[0]]
            y, back = layer.forward(x, training) if mask is None else layer.forward_masked(x, training, mask)
            vals[out], masks[out] = y, layer.output_mask(x, mask)
            backs.append(back)
        return [vals[s] for s in self._output_slots], backs

    def backward(self, backs, d_outputs: list) -> None:
        """Propagate dL/d(output) through the graph: each layer writes its params' gradients, and gradients of a
        tensor read by several layers (fan-out) are summed before flowing further back.

        A shared layer's backward runs once per node and writes its gradients each time; the sum over its nodes
        is kept aside between them (only shared layers pay for this: every other layer writes once, unsummed)."""
        grads: list = [None] * len(self.nodes)
        for s, d in zip(self._output_slots, d_outputs):
            grads[s] = d if grads[s] is None else grads[s] + d
        sums = {layer.name: None for layer in self._shared_layers} if self._shared_layers else None
        for (layer, multi, targets, out, shared), back in zip(self._backward_plan, reversed(backs)):
            g = grads[out]
            if g is None:  # no gradient reaches this node: its params get none from it (gradients are written,
                if not shared:  # not added, so clear what the last step left)
                    for grad in layer.grads.values():
                        grad.fill(0)
                continue
            dx = back(g)
            if shared:
                sums[layer.name] = self._add_shared_grads(layer, sums[layer.name])
            if dx is None:
                continue
            for i, d in zip(targets, dx if multi else (dx,)):
                if d is not None and i is not None:
                    grads[i] = d if grads[i] is None else grads[i] + d
        if sums:
            for layer in self._shared_layers:
                for key, grad in layer.grads.items():
                    if sums[layer.name] is None:
                        grad.fill(0)
                    else:
                        grad[...] = sums[layer.name][key]

    @staticmethod
    def _add_shared_grads(layer: Layer, total: dict | None) -> dict:
        """The running sum of a shared layer's gradients over the nodes whose backward has run so far."""
        if total is None:
            return {k: g.copy() for k, g in layer.grads.items()}
        for k, g in layer.grads.items():
            total[k] += g
        return total

    # --- weights and config ---------------------------------------------------------------------------
    def get_weights(self) -> dict[str, dict[str, np.ndarray]]:
        """Copies of every layer's params and state, by layer name."""
        return {l.name: l.get_weights() for l in self.layers if l.params or l.state}

    def set_weights(self, weights: dict[str, dict[str, np.ndarray]]) -> None:
        for name, w in weights.items():
            self.get_layer(name).set_weights(w)

    def get_config(self) -> dict:
        seen: set[int] = set()
        return {
            "name": self.name,
            "inputs": [i.get_config() for i in self.inputs],
            "layers": [self._node_config(n, seen) for n in self.nodes if not isinstance(n.layer, Input)],
            "outputs": list(self.output_names),
        }

    @staticmethod
    def _node_config(node: Node, seen: set[int]) -> dict:
        """A layer's class and config at its first node; {"reuse": layer name, "name": node name} at the others."""
        if id(node.layer) in seen:
            return {"reuse": node.layer.name, "name": node.name, "inbound": node.inbound}
        seen.add(id(node.layer))
        return {"class_name": type(node.layer).registered_name, "config": node.layer.get_config(),
                "inbound": node.inbound, **({"name": node.name} if node.name != node.layer.name else {})}

    @classmethod
    def from_config(cls, config: dict, seed: int = 0, dtype="float32"):
        inputs = [Input(**c) for c in config["inputs"]]
        built: dict[str, Layer] = {}
        nodes = []
        for d in config["layers"]:
            if "reuse" in d:
                if d["reuse"] not in built:
                    raise ConfigError(f"layer `{d.get('name')}` reuses `{d['reuse']}`, which no layer before it is")
                layer = built[d["reuse"]]
            else:
                layer = built[d["config"].get("name")] = LAYERS.get(d["class_name"])(**d["config"])
            nodes.append(Node(layer, list(d["inbound"]), d.get("name")))
        return cls(inputs, nodes, config["outputs"], name=config.get("name", "model"), seed=seed, dtype=dtype)

    def count_params(self) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts, as Keras's summary reports them."""
        trainable = sum(v.size for l in self.layers if l.trainable for v in l.params.values())
        frozen = sum(v.size for l in self.layers if not l.trainable for v in l.params.values())
        frozen += sum(v.size for l in self.layers for v in l.state.values())
        return int(trainable), int(frozen)
