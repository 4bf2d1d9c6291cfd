"""nntrain.data: the `data:` section of a config -> model-ready arrays.

    raw = load_raw(spec, base_dir)                 # read files / a named dataset; nothing fitted
    bundle = make_bundle(raw, spec, validation_split=0.2, stratify=True, seed=0)
    bundle.train.x, bundle.train.y, bundle.preprocessor.get_state()
    for x in read_inputs(path, Preprocessor.from_state(state)): ...   # nntrain predict

The public names below load on first use (PEP 562), so `import nntrain.data` costs nothing: no numpy, no h5py.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DATA_SCHEMA": "nntrain.data.schema",
    "load_raw": "nntrain.data.loading",
    "DATASETS": "nntrain.data.sources",
    "RawData": "nntrain.data.raw",
    "RawSplit": "nntrain.data.raw",
    "make_bundle": "nntrain.data.dataset",
    "DataBundle": "nntrain.data.dataset",
    "Split": "nntrain.data.dataset",
    "split_indices": "nntrain.data.splits",
    "kfold_indices": "nntrain.data.splits",
    "Preprocessor": "nntrain.data.pipeline",
    "STEPS": "nntrain.data.steps",
    "build_step": "nntrain.data.steps",
    "dataset_entry": "nntrain.data.sources",
    "read_file": "nntrain.data.files",
    "Tokenizer": "nntrain.data.encoders",
    "read_inputs": "nntrain.data.predict_inputs",
    "describe": "nntrain.data.overview",
    "list_datasets": "nntrain.data.overview",
    "word_index": "nntrain.data.sources.catalogue",
    "cache_dir": "nntrain.data.sources.download",
}

__all__ = [
    "DATASETS",
    "DATA_SCHEMA",
    "STEPS",
    "DataBundle",
    "Preprocessor",
    "RawData",
    "RawSplit",
    "Split",
    "Tokenizer",
    "build_step",
    "cache_dir",
    "dataset_entry",
    "describe",
    "kfold_indices",
    "list_datasets",
    "load_raw",
    "make_bundle",
    "read_file",
    "read_inputs",
    "split_indices",
    "word_index",
]

if TYPE_CHECKING:  # pragma: no cover
    from nntrain.data.dataset import DataBundle, Split, make_bundle
    from nntrain.data.sources.catalogue import word_index
    from nntrain.data.encoders import Tokenizer
    from nntrain.data.sources.download import cache_dir
    from nntrain.data.loading import load_raw
    from nntrain.data.overview import describe, list_datasets
    from nntrain.data.predict_inputs import read_inputs
    from nntrain.data.files import read_file
    from nntrain.data.sources import DATASETS, dataset_entry
    from nntrain.data.steps import STEPS, build_step
    from nntrain.data.pipeline import Preprocessor
    from nntrain.data.raw import RawData, RawSplit
    from nntrain.data.schema import DATA_SCHEMA
    from nntrain.data.splits import kfold_indices, split_indices


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nntrain.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
