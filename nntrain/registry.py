"""Registries map config names to classes, so YAML, checkpoints and the CLI all resolve names the same way."""

from __future__ import annotations

import difflib
from typing import Any, Callable

from nntrain.errors import ConfigError


def _key(name: str) -> str:
    # "BinaryCrossentropy", "binary_crossentropy" and "binary-crossentropy" are one name.
    return name.lower().replace("_", "").replace("-", "")


def closest(name: str, choices: list[str]) -> str | None:
    """The choice that looks most like `name`, or None when nothing is close."""
    keyed = {_key(c): c for c in choices}
    match = difflib.get_close_matches(_key(name), list(keyed), n=1, cutoff=0.6)
    return keyed[match[0]] if match else None


def did_you_mean(name: str, choices: list[str]) -> str:
    """A ' (did you mean `x`?)' suffix, or '' when nothing is close."""
    best = closest(str(name), choices)
    return f" (did you mean `{best}`?)" if best else ""


class Registry:
    """Names (with aliases) for the classes of one kind: layers, losses, optimizers...

    Example:
        LOSSES = Registry("loss")

        @LOSSES.register("binary_crossentropy", "bce")
        class BinaryCrossentropy(Loss): ...

        LOSSES.build("bce")                      # -> BinaryCrossentropy()
        LOSSES.build("adam", learning_rate=0.1)  # unknown name -> ConfigError with the closest match
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}
        self._canonical: dict[str, str] = {}  # key -> canonical name
        self._names: list[str] = []  # canonical names in registration order
        self._spellings: list[str] = []  # canonical names and aliases, as registered

    def register(self, name: str, *aliases: str) -> Callable[[Any], Any]:
        def decorator(obj: Any) -> Any:
            obj.registered_name = name
            self._names.append(name)
            for n in (name, *aliases):
                self._spellings.append(n)
                self._items[_key(n)] = obj
                self._canonical[_key(n)] = name
            return obj

        return decorator

    def names(self, aliases: bool = False) -> list[str]:
        """Canonical names in registration order; with `aliases`, every registered spelling."""
        return list(self._spellings if aliases else self._names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._items

    def canonical(self, name: str) -> str:
        self.get(name)
        return self._canonical[_key(name)]

    def get(self, name: str) -> Any:
        """The class registered under `name` (any alias, any case)."""
        if not isinstance(name, str) or _key(name) not in self._items:
            raise ConfigError(
                f"unknown {self.kind} {name!r}{did_you_mean(str(name), self._all_names())}; "
                f"valid {self.kind} names: {', '.join(self._names)}"
            )
        return self._items[_key(name)]

    def _all_names(self) -> list[str]:
        return list(self._names) + [n for n in self._canonical if n not in map(_key, self._names)]

    def build(self, spec: Any, **kwargs: Any) -> Any:
        """An instance from a name, a {"name": ..., **kwargs} dict, or an instance (returned as is); ConfigError
        for anything else."""
        if isinstance(spec, dict):
            spec = dict(spec)
            if "name" not in spec:
                raise ConfigError(f"a {self.kind} given as a mapping needs a `name` key, got {sorted(spec)}")
            name = spec.pop("name")
            return self.build(name, **spec, **kwargs)
        if isinstance(spec, (bool, int, float, list, tuple, bytes)) or spec is None:
            # a YAML value of the wrong type (activation: [relu], 1.5, true), never an instance
            raise ConfigError(f"{self.kind}: expected a name such as {self._names[0]!r} or {{name: ..., "
                              f"arguments}}, got {spec!r}")
        if not isinstance(spec, str):
            return spec
        cls = self.get(spec)
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"{self.kind} {spec!r}: {exc}") from None
