"""Reading preprocessor state back: values as a checkpoint may return them (bytes, numpy scalars, arrays of
strings, lists stored as groups keyed "0", "1", ...) turned into the plain Python values they were saved as."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_str(v: Any) -> str:
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v.item()
    if isinstance(v, np.generic):
        v = v.item()
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def as_list(v: Any) -> list:
    """A list from a list, tuple, 1-D array, or a mapping keyed by positions ("0", "1", ...)."""
    if v is None:
        return []
    if isinstance(v, dict):
        return [v[k] for k in sorted(v, key=lambda k: int(k))]
    if isinstance(v, np.ndarray):
        return list(v.reshape(-1)) if v.ndim else [v.item()]
    return list(v)


def as_str_list(v: Any) -> list[str]:
    return [as_str(x) for x in as_list(v)]


def plain(v: Any) -> Any:
    """Numpy scalars, 0-d arrays and bytes as Python values; arrays of numbers as lists (for constructors)."""
    if isinstance(v, np.ndarray):
        return v.item() if v.ndim == 0 else [plain(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return v
