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
    "load_raw": "nntrain.data.loading",
    "DATASETS": "nntrain.data.loading",
    "RawData": "nntrain.data.raw",
    "RawSplit": "nntrain.data.raw",
    "make_bundle": "nntrain.data.bundle",
    "load_data": "nntrain.data.bundle",
    "DataBundle": "nntrain.data.bundle",
    "Split": "nntrain.data.bundle",
    "split_indices": "nntrain.data.splits",
    "kfold_indices": "nntrain.data.splits",
    "Preprocessor": "nntrain.data.preprocessor",
    "STEPS": "nntrain.data.preprocessing",
    "Tokenizer": "nntrain.data.text",
    "read_inputs": "nntrain.data.predict_inputs",
    "describe": "nntrain.data.overview",
    "list_datasets": "nntrain.data.overview",
    "word_index": "nntrain.data.catalogue",
    "cache_dir": "nntrain.data.download",
}

__all__ = [
    "DATASETS",
    "STEPS",
    "DataBundle",
    "Preprocessor",
    "RawData",
    "RawSplit",
    "Split",
    "Tokenizer",
    "cache_dir",
    "describe",
    "kfold_indices",
    "list_datasets",
    "load_data",
    "load_raw",
    "make_bundle",
    "read_inputs",
    "split_indices",
    "word_index",
]

if TYPE_CHECKING:  # pragma: no cover
    from nntrain.data.bundle import DataBundle, Split, load_data, make_bundle
    from nntrain.data.catalogue import word_index
    from nntrain.data.download import cache_dir
    from nntrain.data.loading import DATASETS, load_raw
    from nntrain.data.overview import describe, list_datasets
    from nntrain.data.predict_inputs import read_inputs
    from nntrain.data.preprocessing import STEPS
    from nntrain.data.preprocessor import Preprocessor
    from nntrain.data.raw import RawData, RawSplit
    from nntrain.data.splits import kfold_indices, split_indices
    from nntrain.data.text import Tokenizer


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nntrain.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
