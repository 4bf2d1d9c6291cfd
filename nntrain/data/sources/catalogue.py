"""The Keras dataset catalogue: downloaded once from Keras's URLs, verified by hash, split as keras.datasets does.

Each reader reproduces its keras.datasets.<name>.load_data: the same files, the same seeded shuffles
(np.random.RandomState), the same options and defaults, so `dataset: imdb` with `options: {num_words: 10000}`
gives the sequences Keras gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nntrain.data.formats.idx import read_idx
from nntrain.data.formats.npy import read_npz
from nntrain.data.raw import RawData, RawSplit, object_array, sequence_parts
from nntrain.data.roles import Roles
from nntrain.data.sources import download
from nntrain.errors import ConfigError, DataError

# Keras's pinned hashes: SHA-256 for the data files, MD5 for the word-index JSON files.
SHA256 = {
    "mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "imdb.npz": "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
    "imdb_word_index.json": "bfafd718b763782e994055a2d397834f",
    "reuters.npz": "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916",
    "reuters_word_index.json": "4d44cc38712099c9e383dc6e5f11a921",
    "california_housing.npz": "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f",
}

FASHION_SUBDIR = "fashion-mnist"  # Keras's cache sub-folder for the four IDX files
FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
REUTERS_CLASSES = [
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee", "sugar",
    "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp",
    "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail", "ipi", "iron-steel",
    "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
]
_SEQUENCE_OPTIONS = {"num_words": None, "skip_top": 0, "maxlen": None, "seed": 113, "start_char": 1, "oov_char": 2,
                     "index_from": 3}


@dataclass
class CatalogueEntry:
    """One Keras dataset: what it is (for `nntrain datasets` and `describe`) and how to read it.

    Attributes:
        files: (file name, cache sub-folder) pairs to fetch.
        kind: raw input kind: "array" or "sequences".
        sample_shape: shape of one raw sample ((None,) for variable-length sequences).
        rows: (train, test) row counts with the default options.
        options: option name -> Keras's default.
    """

    name: str
    description: str
    files: tuple[tuple[str, str], ...]
    kind: str
    sample_shape: tuple
    task: str
    class_names: list[str] | None
    rows: tuple[int, int]
    options: dict[str, Any]
    reader: Callable = field(repr=False, default=None)
    source: str = "catalogue"

    def is_cached(self) -> bool:
        return all(download.cached_path(f, sub) is not None for f, sub in self.files)

    @property
    def n_classes(self) -> int | None:
        return len(self.class_names) if self.class_names else None


def _options(entry: CatalogueEntry, given: dict | None) -> dict:
    given = dict(given or {})
    for key in given:
        if key not in entry.options:
            from nntrain.registry import did_you_mean

            valid = ", ".join(entry.options) or "none"
            raise ConfigError(
                f"dataset {entry.name!r} has no option {key!r}{did_you_mean(key, list(entry.options))}; its options: "
                f"{valid}",
                ("data", "options", key),
            )
    return {**entry.options, **given}


def _fetch(entry: CatalogueEntry, progress) -> list:
    return [download.fetch(f, SHA256[f], sub, progress) for f, sub in entry.files]


def keras_shuffle(n: int, rng: np.random.RandomState) -> np.ndarray:
    """The permutation keras.datasets applies: rng.shuffle of arange(n) (legacy RandomState stream)."""
    idx = np.arange(n)
    rng.shuffle(idx)
    return idx


def _cut(n: int, test_split: float) -> int:
    if not 0 <= test_split < 1:
        raise ConfigError(
            f"options.test_split must be in [0, 1), got {test_split!r}", ("data", "options", "test_split")
        )
    return int(n * (1 - test_split))  # Keras's rounding down


def _single(name: str, x_train, y_train, x_test, y_test, rows_train, rows_test, source: str, kind: str,
            class_names=None, task=None, hints=None) -> RawData:
    train = RawSplit({"input": x_train}, {"output": np.asarray(y_train)}, np.asarray(rows_train, np.int64),
                     f"{source} (train)")
    test = RawSplit({"input": x_test}, {"output": np.asarray(y_test)}, np.asarray(rows_test, np.int64),
                    f"{source} (test)")
    return RawData(name, train, test, None, {"input": kind}, {"input": {"type": "none"}},
                   {"output": class_names}, {"output": task}, {"input": hints or {}})


def _read_mnist(entry, options, progress) -> RawData:
    (path,) = _fetch(entry, progress)
    arrays = read_npz(path)
    n_tr, n_te = len(arrays["y_train"]), len(arrays["y_test"])
    return _single(entry.name, arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                   np.arange(n_tr), np.arange(n_te), "mnist.npz", "array", entry.class_names, entry.task)


def _read_fashion(entry, options, progress) -> RawData:
    y_train, x_train, y_test, x_test = (read_idx(p) for p in _fetch(entry, progress))
    for x, y, what in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if len(x) != len(y):
            raise DataError(f"fashion_mnist: {what} images ({len(x)}) and labels ({len(y)}) differ in count")
    return _single(entry.name, x_train, y_train, x_test, y_test, np.arange(len(y_train)), np.arange(len(y_test)),
                   "fashion-mnist", "array", entry.class_names, entry.task)


def _recode(seqs: np.ndarray, o: dict) -> tuple[np.ndarray, np.ndarray]:
    """Keras's id shift: (start_char +) ids + index_from, as (flat int64 ids, lengths)."""
    flat, lengths = sequence_parts(seqs)
    flat = flat + (o["index_from"] or 0)
    if o["start_char"] is not None:
        starts = np.cumsum(lengths) - lengths
        flat = np.insert(flat, starts, o["start_char"])
        lengths = lengths + 1
    return flat, lengths


def _cut_vocabulary(flat: np.ndarray, lengths: np.ndarray, o: dict) -> tuple[np.ndarray, np.ndarray, int]:
    """Ids outside [skip_top, num_words) become oov_char (or are dropped when oov_char is None), as Keras does.

    Without num_words Keras uses the largest id present as the bound, so that id itself counts as out of range.
    """
    num_words = o["num_words"] or (int(flat.max()) if len(flat) else 0)
    outside = (flat < o["skip_top"]) | (flat >= num_words)
    if o["oov_char"] is not None:
        flat = np.where(outside, o["oov_char"], flat)
    else:
        row = np.repeat(np.arange(len(lengths)), lengths)
        lengths = lengths - np.bincount(row[outside], minlength=len(lengths))
        flat = flat[~outside]
    return flat, lengths, num_words


def _sequences(flat: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    return object_array(np.split(flat.astype(np.int32), np.cumsum(lengths)[:-1]))


def _keep_short(lengths: np.ndarray, maxlen: int | None) -> np.ndarray:
    """Rows Keras keeps for maxlen: sequences strictly shorter than maxlen."""
    return lengths < maxlen if maxlen else np.ones(len(lengths), dtype=bool)


def _select(flat: np.ndarray, lengths: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return flat[np.repeat(keep, lengths)], lengths[keep]


def _read_imdb(entry, options, progress) -> RawData:
    o = _options(entry, options)
    (path,) = _fetch(entry, progress)
    arrays = read_npz(path, sha256=SHA256["imdb.npz"])  # ragged sequences, pickled by Keras: pinned bytes only
    rng = np.random.RandomState(o["seed"])
    parts = []
    for part in ("train", "test"):
        order = keras_shuffle(len(arrays[f"x_{part}"]), rng)
        flat, lengths = _recode(arrays[f"x_{part}"][order], o)
        keep = _keep_short(lengths, o["maxlen"])
        flat, lengths = _select(flat, lengths, keep)
        parts.append((flat, lengths, arrays[f"y_{part}"][order][keep], order[keep]))
    if o["maxlen"] and (len(parts[0][1]) == 0 or len(parts[1][1]) == 0):
        raise ConfigError(f"imdb: no sequence is shorter than maxlen={o['maxlen']}; increase it",
                          ("data", "options", "maxlen"))
    flat = np.concatenate([parts[0][0], parts[1][0]])
    lengths = np.concatenate([parts[0][1], parts[1][1]])
    flat, lengths, num_words = _cut_vocabulary(flat, lengths, o)
    seqs = _sequences(flat, lengths)
    n_train = len(parts[0][1])
    return _single(entry.name, seqs[:n_train], parts[0][2], seqs[n_train:], parts[1][2], parts[0][3], parts[1][3],
                   "imdb.npz", "sequences", entry.class_names, entry.task, {"vocab_size": num_words})


def _read_reuters(entry, options, progress) -> RawData:
    o = _options(entry, options)
    (path,) = _fetch(entry, progress)
    arrays = read_npz(path, sha256=SHA256["reuters.npz"])
    order = keras_shuffle(len(arrays["x"]), np.random.RandomState(o["seed"]))
    flat, lengths = _recode(arrays["x"][order], o)
    keep = _keep_short(lengths, o["maxlen"])
    flat, lengths = _select(flat, lengths, keep)
    labels, rows = arrays["y"][order][keep], order[keep]
    flat, lengths, num_words = _cut_vocabulary(flat, lengths, o)
    seqs = _sequences(flat, lengths)
    cut = _cut(len(seqs), o["test_split"])
    return _single(entry.name, seqs[:cut], labels[:cut], seqs[cut:], labels[cut:], rows[:cut], rows[cut:],
                   "reuters.npz", "sequences", entry.class_names, entry.task, {"vocab_size": num_words})


def _read_california(entry, options, progress) -> RawData:
    o = _options(entry, options)
    if o["version"] not in ("small", "large"):
        raise ConfigError(f"california_housing: version must be 'small' or 'large', got {o['version']!r}",
                          ("data", "options", "version"))
    (path,) = _fetch(entry, progress)
    arrays = read_npz(path)
    x, y = arrays["x"], arrays["y"]
    if o["version"] == "small":
        x, y = x[:600], y[:600]
    order = keras_shuffle(len(x), np.random.RandomState(o["seed"]))
    cut = _cut(len(x), o["test_split"])
    return _single(entry.name, x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]], order[:cut],
                   order[cut:], "california_housing.npz", "array", None, "regression")


CATALOGUE: dict[str, CatalogueEntry] = {
    e.name: e
    for e in [
        CatalogueEntry("mnist", "Handwritten digits, 28x28 grayscale (uint8 0-255)", (("mnist.npz", ""),), "array",
                       (28, 28), "multiclass", [str(i) for i in range(10)], (60000, 10000), {}, _read_mnist),
        CatalogueEntry("fashion_mnist", "Zalando clothing images, 28x28 grayscale (uint8 0-255)",
                       tuple((f, FASHION_SUBDIR) for f in FASHION_FILES), "array", (28, 28), "multiclass",
                       FASHION_CLASSES, (60000, 10000), {}, _read_fashion),
        CatalogueEntry("imdb", "Movie reviews as word-id sequences, sentiment (0 negative, 1 positive)",
                       (("imdb.npz", ""),), "sequences", (None,), "binary", ["negative", "positive"], (25000, 25000),
                       dict(_SEQUENCE_OPTIONS), _read_imdb),
        CatalogueEntry("reuters", "Reuters newswires as word-id sequences, 46 topics", (("reuters.npz", ""),),
                       "sequences", (None,), "multiclass", REUTERS_CLASSES, (8982, 2246),
                       {**_SEQUENCE_OPTIONS, "test_split": 0.2}, _read_reuters),
        CatalogueEntry("california_housing", "1990 California census block groups, median house value (dollars)",
                       (("california_housing.npz", ""),), "array", (8,), "regression", None, (16512, 4128),
                       {"version": "large", "test_split": 0.2, "seed": 113}, _read_california),
    ]
}


TARGET_REFS = ("y", "target")  # the one target array of a catalogue dataset, as data.target / data.outputs name it


def _dotted(path: tuple) -> str:
    return ".".join(map(str, path))


def _x_columns(entry: CatalogueEntry, ref: Any, path: tuple) -> list[int] | None:
    """Column indices of x one input reads (negative ones counted from the end), or None for the whole of x."""
    if ref == "x":
        return None
    if entry.kind != "array" or len(entry.sample_shape) != 1:
        raise ConfigError(
            f"data.{_dotted(path)}: {entry.name}'s x holds samples of shape {entry.sample_shape}, so no columns can "
            f"be chosen from it; write `x` to use it whole",
            ("data", *path),
        )
    n = entry.sample_shape[0]
    refs = list(ref) if isinstance(ref, (list, tuple)) else [ref]
    if not refs:
        raise ConfigError(f"data.{_dotted(path)}: no columns given; {entry.name}'s x has {n} (0-{n - 1})",
                          ("data", *path))
    out = []
    for i, r in enumerate(refs):
        where = (*path, i) if isinstance(ref, (list, tuple)) else path
        if isinstance(r, bool) or not isinstance(r, int):
            raise ConfigError(
                f"data.{_dotted(where)}: {entry.name}'s x has no column names; give column indices 0-{n - 1} "
                f"(or `x` for all of them), got {r!r}",
                ("data", *where),
            )
        if not -n <= r < n:
            raise ConfigError(
                f"data.{_dotted(where)}: column index {r} is out of range for {entry.name}'s x of {n} columns "
                f"(0-{n - 1})",
                ("data", *where),
            )
        if r % n in out:
            raise ConfigError(f"data.{_dotted(where)}: column {r % n} is listed twice", ("data", *where))
        out.append(r % n)
    return out


def roles(entry: CatalogueEntry, spec: dict) -> Roles:
    """Which columns of x feed each input and which outputs read y, from data.inputs/features/outputs/target.

    Columns can be chosen from a table-shaped x (california_housing: 8 columns, by index); any dataset may feed
    its y to several outputs. Checked before anything is downloaded.

    Returns:
        Roles with inputs: name -> column indices of x (None: all of x), outputs: name -> "y".
    """
    if spec.get("outputs"):
        out_refs = {n: (r, ("outputs", n)) for n, r in spec["outputs"].items()}
    else:
        out_refs = {"output": (spec.get("target", "y"), ("target",))}
    for ref, path in out_refs.values():
        if not isinstance(ref, str) or ref not in TARGET_REFS:
            raise ConfigError(
                f"data.{_dotted(path)}: dataset {entry.name!r} has one target array; name it `y` (or `target`), "
                f"got {ref!r}",
                ("data", *path),
            )
    if spec.get("inputs"):
        in_refs = {n: (r, ("inputs", n)) for n, r in spec["inputs"].items()}
    else:
        in_refs = {"input": (spec.get("features", "x"), ("features",))}
    return Roles({n: _x_columns(entry, ref, path) for n, (ref, path) in in_refs.items()},
                 {n: "y" for n in out_refs})


def apply_roles(raw: RawData, chosen: Roles) -> RawData:
    """A single-input, single-output catalogue RawData split into the inputs and outputs `chosen` names."""
    if chosen.inputs == {"input": None} and list(chosen.outputs) == ["output"]:
        return raw

    def regroup(part: RawSplit | None) -> RawSplit | None:
        if part is None:
            return None
        x, y = part.x["input"], part.y["output"]
        return RawSplit({n: x if cols is None else x[:, cols] for n, cols in chosen.inputs.items()},
                        {n: y for n in chosen.outputs}, part.rows, part.source)

    sources = {n: raw.sources["input"] if cols is None else {"type": "x_columns", "indices": list(cols)}
               for n, cols in chosen.inputs.items()}
    return RawData(raw.name, regroup(raw.train), regroup(raw.test), regroup(raw.validation),
                   {n: raw.kinds["input"] for n in chosen.inputs}, sources,
                   {n: raw.class_names.get("output") for n in chosen.outputs},
                   {n: raw.tasks.get("output") for n in chosen.outputs},
                   {n: dict(raw.hints.get("input", {})) for n in chosen.inputs})


def read(name: str, options: dict | None, progress=None) -> RawData:
    """Fetch (if needed) and read a catalogue dataset with Keras's split and options."""
    entry = CATALOGUE[name]
    _options(entry, options)
    return entry.reader(entry, options, progress)


def word_index(name: str, progress=None) -> dict[str, int]:
    """Keras's word -> rank mapping of imdb or reuters (add index_from to get the ids in the sequences)."""
    import json

    fname = f"{name}_word_index.json"
    if fname not in SHA256:
        raise ConfigError(f"no word index for dataset {name!r}; imdb and reuters have one")
    with open(download.fetch(fname, SHA256[fname], "", progress), encoding="utf-8") as fp:
        return json.load(fp)
