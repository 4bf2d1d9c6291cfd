"""`repeat:` in a Sequential layer list: a block of layers written once and stacked `times` times.

    model:
      layers:
        - repeat:
            times: 2                                   # 0 leaves the block out
            layers:
              - Dense: {units: 30, activation: relu}
        - Dense: {units: 1}

is the same model as two `Dense: {units: 30, activation: relu}` lines. It makes the number of hidden layers one
value, so `--set model.layers.0.repeat.times=3` and a search over `model.layers.0.repeat.times: {int: [0, 3]}`
(Géron's `n_hidden`) change depth, and `model.layers.0.repeat.layers.0.Dense.units` every width at once. The block
is expanded right after --set, before the model section is checked; every expanded layer keeps the FILE:LINE:COL of
the line it came from. A named layer is numbered in each copy (`hidden` -> `hidden_1`, `hidden_2`), as two layers
cannot share a name. A run folder's config.yaml holds the expanded list: plain layers that `nntrain fit` runs.
"""

from __future__ import annotations

from nntrain.config.loader import Positions
from nntrain.config.validator import Issue, type_name
from nntrain.registry import did_you_mean

KEYS = ["times", "layers"]
MAX_TIMES = 1000  # a deeper stack is a typo, and would be built before any other check


def is_repeat(item) -> bool:
    return isinstance(item, dict) and len(item) == 1 and "repeat" in item


def expand_repeats(tree: dict, pos: Positions) -> list[Issue]:
    """Replace every `repeat:` item of `tree["model"]["layers"]` by its copies, in place, and move the positions
    of the copied entries to their new key paths. Returns the problems found (a bad item is dropped)."""
    model = tree.get("model")
    layers = model.get("layers") if isinstance(model, dict) else None
    if not isinstance(layers, list) or not any(is_repeat(item) for item in layers):
        return []
    issues: list[Issue] = []
    prefix = ("model", "layers")
    out: list = []
    moves: list[tuple[tuple, tuple]] = []  # (old path, new path) of each layer item written to `out`
    for i, item in enumerate(layers):
        here = prefix + (i,)
        if not is_repeat(item):
            moves.append((here, prefix + (len(out),)))
            out.append(item)
            continue
        block = _block(item["repeat"], here + ("repeat",), "inputs" in model, issues)
        if block is None:
            continue
        times, inner = block
        for copy in range(times):
            for k, layer in enumerate(inner):
                moves.append((here + ("repeat", "layers", k), prefix + (len(out),)))
                out.append(_numbered(layer, copy + 1))
    model["layers"] = out
    _move_positions(pos, prefix, moves)
    return issues


def _block(value, path: tuple, functional: bool, issues: list[Issue]) -> tuple[int, list] | None:
    """(times, layers) of a `repeat:` mapping, or None with an Issue."""
    if functional:
        issues.append(Issue(path, "`repeat` stacks layers of a Sequential list; in a functional model (with "
                                  "`model.inputs`) each layer names its inputs, so write the layers out"))
        return None
    if not isinstance(value, dict):
        issues.append(Issue(path, f"expected a mapping with `times` and `layers`, got {type_name(value)}"))
        return None
    bad = [Issue(path + (k,), f"unknown key `{k}`{did_you_mean(str(k), KEYS)}; valid keys: times, layers", key=True)
           for k in value if k not in KEYS]
    bad += [Issue(path, f"missing `{k}`") for k in KEYS if k not in value]
    times, inner = value.get("times"), value.get("layers")
    if "times" in value and (isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= MAX_TIMES):
        bad.append(Issue(path + ("times",), f"expected a whole number of copies 0..{MAX_TIMES}, got "
                                            f"{type_name(times)} {times!r}"))
    if "layers" in value and (not isinstance(inner, list) or not inner):
        bad.append(Issue(path + ("layers",), f"expected a non-empty list of layers, got {type_name(inner)}"))
    elif isinstance(inner, list) and any(is_repeat(layer) for layer in inner):
        k = next(k for k, layer in enumerate(inner) if is_repeat(layer))
        bad.append(Issue(path + ("layers", k), "a `repeat` inside a `repeat` is not supported; repeat one block"))
    issues += bad
    return None if bad else (times, inner)


def _numbered(layer, copy: int):
    """A copy of one layer item; its `name`, if any, gets the copy's number."""
    if not isinstance(layer, dict):
        return layer
    if "type" in layer or len(layer) != 1:
        args, wrap = dict(layer), None
    else:
        (wrap, args), = layer.items()
        args = dict(args) if isinstance(args, dict) else args
    if isinstance(args, dict) and isinstance(args.get("name"), str):
        args["name"] = f"{args['name']}_{copy}"
    return {wrap: args} if wrap is not None else args


def _move_positions(pos: Positions, prefix: tuple, moves: list[tuple[tuple, tuple]]) -> None:
    """Give every expanded layer entry the FILE:LINE:COL of the entry it was copied from."""
    n = len(prefix) + 1
    for table in (pos.map, pos.key_map):
        old = {path: where for path, where in table.items() if path[:len(prefix)] == prefix and len(path) >= n}
        for path in old:
            if path[n:n + 1] != ("repeat",):  # a block's own entries (`times`, a bad key) stay for its problems
                del table[path]
        for source, target in moves:
            for path, where in old.items():
                if path[:len(source)] == source:
                    table[target + path[len(source):]] = where
