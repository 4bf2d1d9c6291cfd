"""Bundled datasets: small classic tables shipped in the repository's datasets/ folder, usable offline by name.

An install (`pip install .`) carries that folder as the package nntrain.datasets (pyproject.toml's package-dir);
a source checkout run without installing reads it in place.

Each is a gzipped CSV with a header (labels as class indices) and a data card (<name>.md) beside it. A bundled set
is read like an own CSV file, so data.features / target / inputs / outputs still choose columns. Without a
predefined split, a deterministic test split is held out: test_split 0.2 (data.test_split or options.test_split),
stratified for classification, seeded by options.seed (113, the seed keras.datasets uses for its splits).
boston_housing reproduces Keras's split instead: a np.random.RandomState(seed=113) shuffle of the 506 rows, then
the first 404 train and the last 102 test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain.data.formats import read_file
from nntrain.data.raw import RawData
from nntrain.data.splits import split_indices
from nntrain.errors import ConfigError


def datasets_dir() -> Path:
    """The folder of the bundled tables: the installed package nntrain.datasets, else <repository>/datasets."""
    from importlib.resources import files

    # Asked of nntrain (a regular package), not of nntrain.datasets: that one has no __init__.py, and a namespace
    # package's files() is no plain folder. Editable installs and bare checkouts have no nntrain/datasets.
    installed = files("nntrain") / "datasets"
    if isinstance(installed, Path) and (installed / "iris.csv.gz").is_file():
        return installed
    return Path(__file__).resolve().parents[3] / "datasets"


DATASETS_DIR = datasets_dir()


@dataclass
class BundledEntry:
    """One bundled table.

    Attributes:
        target: label column; features: how many feature columns; rows: total rows.
        keras_split: reproduce keras.datasets' seeded shuffle-then-cut split (boston_housing) instead of a
            stratified hold-out.
    """

    name: str
    description: str
    target: str
    features: int
    rows: int
    task: str
    class_names: list[str] | None
    keras_split: bool = False
    source: str = "bundled"

    @property
    def path(self) -> Path:
        return DATASETS_DIR / f"{self.name}.csv.gz"

    @property
    def options(self) -> dict:
        return {"test_split": 0.2, "seed": 113}  # 113: the seed keras.datasets uses for its splits

    @property
    def sample_shape(self) -> tuple:
        return (self.features,)

    @property
    def n_classes(self) -> int | None:
        return len(self.class_names) if self.class_names else None

    @property
    def split_rows(self) -> tuple[int, int]:
        """(train, test) rows with the default test split."""
        test = self.rows - int(self.rows * 0.8) if self.keras_split else int(round(0.2 * self.rows))
        return self.rows - test, test

    def is_cached(self) -> bool:
        return self.path.is_file()


BUNDLED: dict[str, BundledEntry] = {
    e.name: e
    for e in [
        BundledEntry("iris", "Fisher's iris flowers: 4 measurements (cm), 3 species", "species", 4, 150,
                     "multiclass", ["setosa", "versicolor", "virginica"]),
        BundledEntry("wine", "Italian wines: 13 chemical measurements, 3 cultivars", "cultivar", 13, 178,
                     "multiclass", ["class_0", "class_1", "class_2"]),
        BundledEntry("breast_cancer", "Wisconsin diagnostic breast cancer: 30 cell-nucleus features",
                     "diagnosis", 30, 569, "binary", ["malignant", "benign"]),
        BundledEntry("digits", "Handwritten digits as 8x8 images of 0-16 intensities (64 columns, row-major)",
                     "digit", 64, 1797, "multiclass", [str(i) for i in range(10)]),
        BundledEntry("boston_housing", "Boston suburbs 1970s: 13 attributes, median home value (k$); see the "
                     "data card's ethical caveat", "MEDV", 13, 506, "regression", None, keras_split=True),
    ]
}


def read(name: str, spec: dict) -> RawData:
    """Read a bundled table and split off its test rows (see module docstring)."""
    entry = BUNDLED[name]
    options = dict(spec.get("options") or {})
    for key in options:
        if key not in entry.options:
            raise ConfigError(
                f"bundled dataset {name!r} has no option {key!r}; its options: {', '.join(entry.options)}",
                ("data", "options", key),
            )
    if "test_split" in options and spec.get("test_split") is not None and options["test_split"] != spec["test_split"]:
        raise ConfigError("data.test_split and data.options.test_split disagree; give one", ("data", "test_split"))
    test_split = options.get("test_split", spec.get("test_split", 0.2))
    seed = options.get("seed", entry.options["seed"])
    if not 0 <= test_split < 1:
        raise ConfigError(f"test_split must be in [0, 1), got {test_split!r}", ("data", "test_split"))

    data = read_file(entry.path, spec, default_target=entry.target)
    split = data.split
    raw = RawData(name, split, None, None, data.kinds, data.sources, {"output": None}, {"output": None})
    out = next(iter(split.y))
    uses_default_target = not spec.get("outputs") and spec.get("target") in (None, entry.target)
    if uses_default_target:
        raw.class_names = {out: entry.class_names}
        raw.tasks = {out: entry.task}
    if test_split == 0:
        return raw
    if entry.keras_split:
        order = np.arange(len(split))
        np.random.RandomState(seed).shuffle(order)
        cut = int(len(split) * (1 - test_split))
        train_idx, test_idx = order[:cut], order[cut:]
    else:
        train_idx, test_idx = split_indices(len(split), test_split, True, raw.stratify_labels(), seed)
    raw.train, raw.test = split.take(train_idx), split.take(test_idx)
    return raw
