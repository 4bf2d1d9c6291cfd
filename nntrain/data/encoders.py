"""Encoders: the first fitted stage of an input or output, and the one rule that says a column holds class labels.

(Table columns -> features is columns.py's ColumnEncoder.)

TargetEncoder: raw targets of one output -> class indices or float values, with the task they imply. Tasks:
"binary" and "multiclass" (one label per row: int32 class indices (rows,)), "multilabel" (rows, k) 0/1,
"regression" (float32, (rows,) or (rows, k)). Whether a column holds labels is `is_class_label`'s call.

Tokenizer: documents -> integer word-id sequences, with a vocabulary fitted on the training texts. Ids follow the
Keras convention of reserving the lowest ids: 0 is padding, 1 stands for any word outside the vocabulary, and the
vocabulary's words get 2, 3, ... in order of decreasing training frequency (ties broken alphabetically, so the
vocabulary is deterministic).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

from nntrain.data.columns import lookup
from nntrain.data.raw import object_array
from nntrain.data.state import as_str, as_str_list, plain
from nntrain.errors import DataError

MAX_NUMBER_CLASSES = 20  # see is_class_label
OOV_ID = 1
FIRST_WORD_ID = 2

_TAG = re.compile(r"<[^>]*>")  # aclImdb reviews carry <br /> tags
_WORD = re.compile(r"\w+(?:'\w+)*")


def is_text(y: np.ndarray) -> bool:
    return y.dtype == object or y.dtype.kind in "US"


def is_class_label(y: np.ndarray) -> bool:
    """Whether a 1-D target column holds class labels rather than numbers to regress.

    Text and booleans are labels. Integer arrays (NPZ/HDF5 files, the Keras datasets) keep their dtype, so any
    non-negative integers are labels. Float columns are labels only when every value is a non-negative integer and
    there are at most MAX_NUMBER_CLASSES (20) distinct values. Every CSV/TSV number arrives as float64, so this cap
    is what tells a class column from an integer-valued quantity (a count, an age, a price in whole units). 20 is
    the cap training has always applied: every bundled table (digits has the most classes, 10) and every recorded
    run keep their task; a table with more classes names them as text, or stores them in an integer NPZ array.

    Args:
        y: (rows,) the column, or its distinct values (the answer is the same).
    """
    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        return False
    if is_text(y) or y.dtype.kind == "b":
        return True
    if y.dtype.kind in "iu":
        return bool(y.min() >= 0)
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)) or y.min() < 0:
        return False
    return len(np.unique(y)) <= MAX_NUMBER_CLASSES


def label_codes(y: np.ndarray, class_names: list[str] | None = None) -> np.ndarray | None:
    """The sorted distinct labels of a numeric class column when they are not 0..K-1 (1..K, 10/20/30), else None.
    Labels with metadata class names are indices into them and are never remapped."""
    if class_names:
        return None
    values = np.unique(np.asarray(y, np.float64))
    return None if np.array_equal(values, np.arange(len(values))) else values


def _code_name(code: float) -> str:
    return str(int(code)) if float(code).is_integer() else str(code)


def infer_task(y: np.ndarray, n_classes: int | None = None) -> str:
    """The task a training target (rows,) or (rows, k) implies (see the module docstring)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1 and not is_text(y):
        binary = np.isin(y, (0, 1)).all()
        if binary and np.all(y.sum(axis=1) == 1):
            return "multiclass"
        return "multilabel" if binary else "regression"
    if y.ndim == 2:
        y = y[:, 0]
    if is_class_label(y):
        k = n_classes if n_classes is not None else len(np.unique(y))
        return "binary" if k <= 2 else "multiclass"
    return "regression"


def target_facts(y: np.ndarray, class_names: list[str] | None = None) -> tuple[str, int | None, int, list | None]:
    """(task, n_classes, width, class_names) of a target, as TargetEncoder.fit finds them (for `describe`).

    Args:
        y: (rows,) or (rows, k) targets; for a 1-D column its distinct values are enough.
        class_names: names known from metadata, or None.
    """
    y = np.asarray(y)
    if is_text(y):
        names = sorted({str(v) for v in y.reshape(-1)})
        return ("binary" if len(names) == 2 else "multiclass"), len(names), 1, names
    task = infer_task(y, len(class_names) if class_names else None)
    width = 1 if y.ndim == 1 else int(np.prod(y.shape[1:]))
    if task in ("binary", "multiclass") and y.ndim == 1:
        codes = label_codes(y, class_names)
        if codes is not None:
            return ("binary" if len(codes) == 2 else "multiclass"), len(codes), 1, [_code_name(c) for c in codes]
        n = max(int(y.max()) + 1, len(class_names or ()), 2)
        return task, n, 1, class_names
    return task, (width if task == "multiclass" else None), width, class_names


class TargetEncoder:
    """Fitted mapping from raw targets of one output to training targets.

    Attributes:
        task: "binary", "multiclass", "multilabel" or "regression".
        classes: sorted str labels for text targets, else None.
        codes: sorted numeric labels that are not 0..K-1 (1..K, or codes like 10/20/30), mapped to 0..K-1 as text
            labels are; else None.
        class_names: names to show for each class index (text labels, codes, or metadata names), or None.
        n_classes: number of classes for binary/multiclass, else None.
        width: number of target columns after encoding (1 for class indices and single regression targets).
    """

    def __init__(self, name: str = "output"):
        self.name = name
        self.task: str | None = None
        self.classes: list[str] | None = None
        self.codes: np.ndarray | None = None
        self.class_names: list[str] | None = None
        self.n_classes: int | None = None
        self.width = 1

    def fit(self, y: np.ndarray, class_names: list[str] | None = None, task: str | None = None) -> TargetEncoder:
        """Learn classes and task from the training targets (rows,) or (rows, k)."""
        y = np.asarray(y)
        if len(y) == 0:
            raise DataError(f"output {self.name!r}: no training targets")
        if is_text(y):
            if y.ndim != 1:
                raise DataError(f"output {self.name!r}: text labels must be one column, got shape {y.shape}")
            self.classes = sorted({str(v) for v in y})
            self.class_names = list(self.classes)
            self.n_classes = len(self.classes)
            if self.n_classes < 2:
                raise DataError(f"output {self.name!r}: the training labels hold one class only: {self.classes}")
            self.task = "binary" if self.n_classes == 2 else "multiclass"
            return self
        self.task = task or infer_task(y, len(class_names) if class_names else None)
        self.width = 1 if y.ndim == 1 else int(np.prod(y.shape[1:]))
        if self.task in ("binary", "multiclass") and y.ndim == 1:
            codes = label_codes(y, class_names)
            if codes is not None:  # 1..K or sparse codes: mapped to 0..K-1 like text labels, the codes kept as names
                self.codes, self.n_classes = codes, len(codes)
                self.class_names = [_code_name(c) for c in codes]
                self.task = "binary" if len(codes) == 2 else "multiclass"
                return self
            top = int(np.max(y)) + 1
            self.n_classes = max(len(class_names) if class_names else 0, top, 2)
            self.class_names = list(class_names) if class_names else None
        elif self.task == "multiclass":  # already one-hot
            self.n_classes = self.width
            self.class_names = list(class_names) if class_names else None
        return self

    def _reject(self, bad: np.ndarray, labels: np.ndarray, expected: str, where: str) -> None:
        """DataError naming the first row where `bad` is set, its label and what was expected."""
        if bad.any():
            i = int(np.argmax(bad))
            label = labels[i].item() if isinstance(labels[i], np.generic) else labels[i]
            raise DataError(f"{where}row {i + 1} of output {self.name!r} has label {label!r}{expected}")

    def transform(self, y: np.ndarray, source: str = "") -> np.ndarray:
        """(rows,) int32 class indices, or float32 targets; unknown labels raise DataError."""
        y = np.asarray(y)
        where = f"{source}: " if source else ""
        if self.classes is not None:
            if not is_text(y):
                y = y.astype(str)
            labels = np.asarray([str(v) for v in y], dtype=object)
            idx, known = lookup(self.classes, labels)
            self._reject(~known, labels, f", which the training data does not have; known labels: {self.classes}",
                         where)
            return idx.astype(np.int32)
        if is_text(y):
            raise DataError(f"{where}output {self.name!r} was numeric in training but holds text labels here")
        if self.codes is not None:
            idx = np.minimum(np.searchsorted(self.codes, y), len(self.codes) - 1)
            known = self.codes[idx] == y
            self._reject(~known, y, f", which the training data does not have; known labels: "
                         f"{', '.join(self.class_names)}", where)
            return idx.astype(np.int32)
        if self.task in ("binary", "multiclass") and y.ndim == 1:
            bad = (y != np.round(y)) | (y < 0) | (y >= self.n_classes)
            self._reject(bad, y, f"; expected a class index in 0..{self.n_classes - 1}", where)
            return y.astype(np.int32)
        return y.astype(np.float32)

    def get_state(self) -> dict:
        state = {"name": self.name, "task": self.task, "width": self.width}
        if self.classes is not None:
            state["classes"] = list(self.classes)
        if self.codes is not None:
            state["codes"] = np.asarray(self.codes, np.float64)
        if self.class_names is not None:
            state["class_names"] = list(self.class_names)
        if self.n_classes is not None:
            state["n_classes"] = int(self.n_classes)
        return state

    @classmethod
    def from_state(cls, state: dict) -> TargetEncoder:
        enc = cls(as_str(state["name"]))
        enc.task = as_str(state["task"])
        enc.width = int(state["width"])
        enc.classes = as_str_list(state["classes"]) if "classes" in state else None
        enc.codes = np.asarray(state["codes"], np.float64).reshape(-1) if "codes" in state else None
        enc.class_names = as_str_list(state["class_names"]) if "class_names" in state else None
        enc.n_classes = int(state["n_classes"]) if "n_classes" in state else None
        return enc


class Tokenizer:
    """Splits documents into words and maps them to ids.

    Args:
        num_words: keep the `num_words` most frequent training words (default: all of them).
        lowercase: lowercase documents before splitting.

    Attributes:
        vocabulary: the kept words, most frequent first; word i has id i + 2.
    """

    def __init__(self, num_words: int | None = None, lowercase: bool = True):
        self.num_words = num_words
        self.lowercase = lowercase
        self.vocabulary: list[str] = []
        self._ids: dict[str, int] = {}

    @property
    def vocab_size(self) -> int:
        """Number of distinct ids, padding and out-of-vocabulary included."""
        return len(self.vocabulary) + FIRST_WORD_ID

    @property
    def width(self) -> int:
        """How wide a multi_hot of these ids is by default: num_words + 2 when num_words is set (as Keras's
        texts_to_matrix is num_words wide, whatever the training texts hold: `nntrain check` knows it without
        reading them), else the vocabulary's size."""
        return self.num_words + FIRST_WORD_ID if self.num_words is not None else self.vocab_size

    def words(self, doc: str) -> list[str]:
        """The words of one document."""
        doc = _TAG.sub(" ", doc)
        return _WORD.findall(doc.lower() if self.lowercase else doc)

    def fit(self, docs: Iterable[str]) -> Tokenizer:
        counts = Counter()
        for doc in docs:
            counts.update(self.words(doc))
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if self.num_words is not None:
            ranked = ranked[: self.num_words]
        self._set_vocabulary([w for w, _ in ranked])
        return self

    def _set_vocabulary(self, vocabulary: list[str]) -> None:
        self.vocabulary = list(vocabulary)
        self._ids = {w: i + FIRST_WORD_ID for i, w in enumerate(self.vocabulary)}

    def transform(self, docs: Iterable[str]) -> np.ndarray:
        """(rows,) object array of int32 id arrays, one per document."""
        ids = self._ids
        seqs = [np.fromiter((ids.get(w, OOV_ID) for w in self.words(d)), dtype=np.int32) for d in docs]
        return object_array(seqs)

    def get_config(self) -> dict:
        return {"num_words": self.num_words, "lowercase": self.lowercase}

    def get_state(self) -> dict:
        return {"config": self.get_config(), "vocabulary": list(self.vocabulary)}

    @classmethod
    def from_state(cls, state: dict) -> Tokenizer:
        config = {k: plain(v) for k, v in dict(state["config"]).items()}
        tok = cls(None if config.get("num_words") is None else int(config["num_words"]), bool(config["lowercase"]))
        tok._set_vocabulary(as_str_list(state["vocabulary"]))
        return tok
