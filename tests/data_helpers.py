"""Shorthand for the data tests: a data section prepared the way `nntrain fit` does it, and IDX file bytes."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from nntrain.data import DataBundle, load_raw, make_bundle


def data_bundle(spec: dict, base_dir: Path, progress=None) -> DataBundle:
    """load_raw, then make_bundle without a validation split: every training row is fitted on and transformed."""
    return make_bundle(load_raw(spec, base_dir, progress), spec)


def idx_bytes(a: np.ndarray) -> bytes:
    """Gzipped IDX encoding (the MNIST file format): 0, 0, type 0x08 (ubyte), ndim, big-endian dims, data."""
    header = bytes([0, 0, 0x08, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    return gzip.compress(header + a.astype(np.uint8).tobytes())
