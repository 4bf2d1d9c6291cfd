"""nntrain.data: the `data:` section of a config -> model-ready arrays.

    raw = load_raw(spec, base_dir)                 # read files / a named dataset; nothing fitted
    bundle = make_bundle(raw, spec, validation_split=0.2, stratify=True, seed=0)
    bundle.train.x, bundle.train.y, bundle.preprocessor.get_state()
    for x in read_inputs(path, Preprocessor.from_state(state)): ...   # nntrain predict

Where things are:
    loading.py     load_raw: a data spec -> RawData (raw.py), from a named dataset or own files
    sources/       datasets by name: bundled tables, the Keras catalogue, the download cache
    formats/       the file formats (csv, tsv, npy, npz, hdf5, idx, text folder/lines), one registry; tables.py
                   parses delimited text (tables_pandas.py: the fast path when pandas is installed), roles.py says
                   which columns or arrays feed each input and output (and the sample weight column)
    columns.py     ColumnEncoder: table columns -> features (categories of the training rows, handle_unknown)
    encoders.py    the first fitted stage of targets and text, and the one class-label rule
    steps.py       the configurable fitted steps (standardize, one_hot, pad_sequences...; impute.py: impute)
    pipeline.py    Preprocessor: encoders + steps for every input and output, saved in checkpoints (state.py)
    splits.py      which rows are held out (test/validation fractions, k folds)
    dataset.py     make_bundle: RawData -> DataBundle of model-ready train/val/test splits
    overview.py    describe and list_datasets, for `nntrain check` and `nntrain datasets`

What the verbs mean here:
    read_*     a file (or a folder, or a named dataset's files) into memory, whole: read_file, read_table,
               bundled.read; read_inputs is predict's reader and streams
    stream     rows a chunk at a time, memory constant in the file size (Format.stream, stream_table)
    fetch      download a file once into the cache, checked by its hash
    load_raw   a whole data spec: everything it names, read, test rows held out; the only "load"
    describe   shapes, tasks and classes without reading everything and without downloading
    fit / transform / inverse_transform   learn on the training rows / apply / undo (encoders, steps, pipelines)
    split      (noun) one part of the rows: train, validation or test (RawSplit, Split); split_indices and
               kfold_indices choose the rows of the parts, `take` picks them out

The public names below load on first use (PEP 562), so `import nntrain.data` costs nothing: no numpy, no h5py.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "load_raw": "nntrain.data.loading",
    "DATASETS": "nntrain.data.sources",
    "dataset_entry": "nntrain.data.sources",
    "RawData": "nntrain.data.raw",
    "RawSplit": "nntrain.data.raw",
    "read_file": "nntrain.data.formats",
    "read_inputs": "nntrain.data.formats",
    "make_bundle": "nntrain.data.dataset",
    "DataBundle": "nntrain.data.dataset",
    "Split": "nntrain.data.dataset",
    "split_indices": "nntrain.data.splits",
    "kfold_indices": "nntrain.data.splits",
    "Preprocessor": "nntrain.data.pipeline",
    "STEPS": "nntrain.data.steps",
    "build_step": "nntrain.data.steps",
    "Tokenizer": "nntrain.data.encoders",
    "describe": "nntrain.data.overview",
    "list_datasets": "nntrain.data.overview",
    "word_index": "nntrain.data.sources.catalogue",
    "cache_dir": "nntrain.data.sources.download",
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
    from nntrain.data.encoders import Tokenizer
    from nntrain.data.formats import read_file, read_inputs
    from nntrain.data.loading import load_raw
    from nntrain.data.overview import describe, list_datasets
    from nntrain.data.pipeline import Preprocessor
    from nntrain.data.raw import RawData, RawSplit
    from nntrain.data.sources import DATASETS, dataset_entry
    from nntrain.data.sources.catalogue import word_index
    from nntrain.data.sources.download import cache_dir
    from nntrain.data.splits import kfold_indices, split_indices
    from nntrain.data.steps import STEPS, build_step


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nntrain.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
