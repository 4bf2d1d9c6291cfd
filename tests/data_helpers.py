"""Shorthand for the data tests: a data section read and prepared the way `nntrain fit` does it."""

from __future__ import annotations

from pathlib import Path

from nntrain.data import DataBundle, load_raw, make_bundle


def data_bundle(spec: dict, base_dir: Path, progress=None) -> DataBundle:
    """load_raw, then make_bundle without a validation split: every training row is fitted on and transformed."""
    return make_bundle(load_raw(spec, base_dir, progress), spec)
