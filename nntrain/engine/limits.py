"""How large an array nntrain agrees to allocate, asked before allocating: from a layer's width, a data file's header
or a checkpoint's dataset shape, so a typo or a crafted file is a clear error instead of a MemoryError, a swapping
machine or an out-of-memory kill.

    problem = too_large((4, 2_000_000_000), "float32", copies=4)   # a reason, or None when it fits
    with weights_budget():                 # a model's weights, counted together as they are created
        problem = reserve(shape, dtype)
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os

import numpy as np

MAX_ELEMENTS = 2**31  # values in one array (8 GiB of float32): far past what this CPU engine trains or reads
TRAINING_COPIES = 4  # a trained weight lives four times over: values, gradient, two optimizer slots (Adam)
MAX_COMPRESSION = 1100  # deflate (HDF5's gzip) never packs more than about 1032 bytes into one

_spent: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("nntrain_weights_budget", default=None)


def physical_memory() -> int | None:
    """Bytes of memory in this machine, or None where the system does not say."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def nbytes(shape, dtype) -> int:
    """Bytes an array of `shape` and `dtype` holds, in Python integers (no overflow whatever the header says)."""
    return math.prod(int(d) for d in shape) * np.dtype(dtype).itemsize


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def too_large(shape, dtype, copies: int = 1) -> str | None:
    """Why an array of `shape` and `dtype` must not be allocated, or None when it may.

    Args:
        copies: how many arrays of that size the task keeps at once (a weight being trained: the weight, its
            gradient and two optimizer slots); the total must fit in this machine's memory.
    """
    elements = math.prod(int(d) for d in shape)
    size = nbytes(shape, dtype)
    what = f"shape {tuple(int(d) for d in shape)} ({np.dtype(dtype).name}) needs {format_bytes(size)}"
    if elements > MAX_ELEMENTS:
        return f"{what}: more than the {MAX_ELEMENTS:,} values one array may hold"
    memory = physical_memory()
    if memory is not None and size * copies > memory:
        times = f" ({copies} such arrays at once: {format_bytes(size * copies)})" if copies > 1 else ""
        return f"{what}{times}, more than this machine's {format_bytes(memory)} of memory"
    return None


def unbacked(shape, dtype, stored: int) -> str | None:
    """Why a dataset declaring `shape` and `dtype` cannot hold what it declares in `stored` bytes of storage (even
    compressed), or None. A crafted file declares gigabytes in kilobytes: reading it would allocate them all."""
    need = nbytes(shape, dtype)
    if need <= MAX_COMPRESSION * stored + (64 << 10):
        return None
    return (f"declares shape {tuple(int(d) for d in shape)} ({np.dtype(dtype).name}, {format_bytes(need)}) but "
            f"stores only {format_bytes(stored)}, more than any compression explains")


@contextlib.contextmanager
def weights_budget(cap: int | None = None):
    """Count every weight `reserve`d inside this block together (a model being built): the sum of them, trained,
    must fit in memory, not just each one.

    Args:
        cap: bytes the weights may take at most (a model rebuilt from a checkpoint: what the file holds). A block
            opened inside one with a cap joins it instead of starting afresh.
    """
    outer = _spent.get()
    if outer is not None and outer[1] is not None and cap is None:
        yield
        return
    token = _spent.set([0, cap])
    try:
        yield
    finally:
        _spent.reset(token)


def reserve(shape, dtype) -> str | None:
    """Why a weight of `shape` and `dtype` must not be created, or None, counting it (when it may) against the
    weights created before it in the open `weights_budget` block; alone outside one."""
    spent = _spent.get()
    problem = too_large(shape, dtype, copies=TRAINING_COPIES)
    if problem is not None or spent is None:
        return problem
    size, memory = nbytes(shape, dtype), physical_memory()
    what = f"shape {tuple(int(d) for d in shape)} ({np.dtype(dtype).name}) needs {format_bytes(size)}"
    if spent[1] is not None and spent[0] + size > spent[1]:
        return f"{what}: with the weights before it, more than the {format_bytes(spent[1])} the checkpoint holds"
    total = (spent[0] + size) * TRAINING_COPIES
    if memory is not None and total > memory:
        return (f"{what}; with the {format_bytes(spent[0])} of weights before it, training needs "
                f"{format_bytes(total)} (values, gradients, optimizer slots), more than this machine's "
                f"{format_bytes(memory)} of memory")
    spent[0] += size
    return None
