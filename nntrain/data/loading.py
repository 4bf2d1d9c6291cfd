"""load_raw: read everything a data spec names (dataset by name, or own files), without fitting anything."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from nntrain.data.formats import read_file
from nntrain.data.raw import RawData
from nntrain.data.sources import bundled, catalogue, dataset_entry
from nntrain.data.splits import split_indices
from nntrain.errors import ConfigError, NNTrainError

_OWN_FILE_KEYS = ("train", "test", "validation")


@contextmanager
def reading(key: str):
    """Errors raised while reading the file of `data.<key>` carry that key path (where the config names it)."""
    try:
        yield
    except NNTrainError as exc:
        if not exc.path:
            exc.path = ("data", key)
        raise


def resolve_path(path: str | Path, base_dir: Path) -> Path:
    """A config path: ~ expanded, relative ones taken from the config file's folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(base_dir) / p


def check_source(spec: dict) -> None:
    """A data spec names a dataset or own files, not both and not neither."""
    if spec.get("dataset") is not None:
        given = [k for k in _OWN_FILE_KEYS if spec.get(k)]
        if given:
            raise ConfigError(
                f"data.dataset and data.{given[0]} are both set; use a named dataset or own files, not both",
                ("data", given[0]),
            )
    elif not spec.get("train"):
        raise ConfigError("data needs `dataset` (a named dataset) or `train` (a data file or folder)", ("data",))
    elif spec.get("options"):
        raise ConfigError("data.options are loader arguments of a named dataset; own files take none",
                          ("data", "options"))


def load_raw(spec: dict, base_dir: Path, progress: Callable[[int, int, str], None] | None = None) -> RawData:
    """Read the train (and test/validation) data a `data:` section names; nothing is fitted.

    Args:
        spec: the validated `data:` section (defaults filled, or a plain dict of the keys used).
        base_dir: folder relative paths are taken from (the config file's folder).
        progress: optional download callback progress(done_bytes, total_bytes, description).

    Returns:
        RawData with train, and test/validation when given, predefined (Keras splits) or held out (test_split).
    """
    spec = dict(spec or {})
    check_source(spec)
    if spec.get("dataset") is not None:
        entry = dataset_entry(spec["dataset"])
        if entry.source == "bundled":
            return bundled.read(entry.name, spec)
        if spec.get("test_split") is not None:
            hint = " (use data.options.test_split)" if "test_split" in entry.options else ""
            raise ConfigError(f"dataset {entry.name!r} has a predefined test split{hint}", ("data", "test_split"))
        chosen = catalogue.roles(entry, spec)  # column and key mistakes surface before any download
        return catalogue.apply_roles(catalogue.read(entry.name, spec.get("options"), progress), chosen)

    with reading("train"):
        train = read_file(resolve_path(spec["train"], base_dir), spec)
    raw = RawData(str(spec["train"]), train.split, None, None, train.kinds, train.sources, train.class_names,
                  {n: None for n in train.split.y})
    for key in ("test", "validation"):
        if spec.get(key):
            with reading(key):
                setattr(raw, key, read_file(resolve_path(spec[key], base_dir), spec, like=train).split)
    test_split = spec.get("test_split")
    if test_split and raw.test is None:
        keep, held = split_indices(len(raw.train), test_split, True, raw.stratify_labels(), 0)
        raw.train, raw.test = raw.train.take(keep), raw.train.take(held)
    return raw
