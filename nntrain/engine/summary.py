"""A model's summary table, as Keras prints it: one row per layer, exact parameter counts and their size in bytes."""

from __future__ import annotations

from nntrain.engine.layer import format_shape


def rows(model) -> list[tuple[str, str, str, int, str]]:
    """(layer name, type, output shape, params, connected to) per layer of a Graph, in order."""
    seen: set[int] = set()
    out = []
    for node in model.nodes:  # a shared layer's parameters count at its first node only, like Keras
        first = id(node.layer) not in seen
        seen.add(id(node.layer))
        kind = type(node.layer).__name__ if first else f"{type(node.layer).__name__}, shares {node.layer.name}"
        out.append((node.name, kind, format_shape(model.shapes[node.name]),
                    node.layer.count_params() if first else 0, ", ".join(node.inbound)))
    return out


def text(model) -> str:
    """The Keras-style plain-text table. A chain (one input, each layer read once) lists no input row and no
    "Connected to" column, like Keras's Sequential summary; any other graph shows both."""
    table = rows(model)
    functional = (len(model.input_names) > 1 or any(len(n.inbound) > 1 for n in model.nodes)
                  or any(c > 1 for c in model.consumers.values()) or bool(model.shared))
    head = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
    if not functional:
        table = [r for r in table if r[1] != "Input"]
    body = [[f"{n} ({t})", s, f"{p:,}"] + ([c] if functional else []) for n, t, s, p, c in table]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]

    def line(r):
        return "  ".join(c.rjust(w) if i == 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))

    rule = "-" * len(line(head))
    trainable, frozen = model.count_params()
    itemsize = model.dtype.itemsize
    out = [f'Model: "{model.name}"', rule, line(head), rule.replace("-", "=")]
    out += [line(r) for r in body]
    out += [rule,
            f"Total params: {trainable + frozen:,} ({_bytes((trainable + frozen) * itemsize)})",
            f"Trainable params: {trainable:,} ({_bytes(trainable * itemsize)})",
            f"Non-trainable params: {frozen:,} ({_bytes(frozen * itemsize)})"]
    return "\n".join(out)


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"
