"""TargetEncoder: raw targets of one output -> class indices or float values, with the task it implies.

Tasks: "binary" and "multiclass" (one label per row: int32 class indices (rows,)), "multilabel" (rows, k) 0/1,
"regression" (float32, (rows,) or (rows, k)). String labels are always classes: encoded in sorted order, their
names kept. Integer labels are classes; float targets are classes only when every value is a small non-negative
integer (at most 20 distinct values), since CSV numbers arrive as floats.
"""

from __future__ import annotations

import numpy as np

from nntrain.data.state import as_str, as_str_list
from nntrain.errors import DataError

TASKS = ("binary", "multiclass", "multilabel", "regression")
_MAX_FLOAT_CLASSES = 20


def is_text(y: np.ndarray) -> bool:
    return y.dtype == object or y.dtype.kind in "US"


def looks_categorical(y: np.ndarray) -> bool:
    """Whether a 1-D target reads as class labels (see module docstring)."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        return False
    if is_text(y):
        return True
    if y.dtype.kind == "b":
        return True
    if y.dtype.kind in "iu":
        return bool(y.min() >= 0)
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)) or y.min() < 0:
        return False
    return len(np.unique(y)) <= _MAX_FLOAT_CLASSES


def infer_task(y: np.ndarray, n_classes: int | None = None) -> str:
    """The task a training target implies (see module docstring)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1 and not is_text(y):
        binary = np.isin(y, (0, 1)).all()
        if binary and np.all(y.sum(axis=1) == 1):
            return "multiclass"
        return "multilabel" if binary else "regression"
    if y.ndim == 2:
        y = y[:, 0]
    if looks_categorical(y):
        k = n_classes if n_classes is not None else len(np.unique(y))
        return "binary" if k <= 2 else "multiclass"
    return "regression"


class TargetEncoder:
    """Fitted mapping from raw targets of one output to training targets.

    Attributes:
        task: one of TASKS.
        classes: sorted str labels for text targets, else None.
        class_names: names to show for each class index (text labels or metadata names), or None.
        n_classes: number of classes for binary/multiclass, else None.
        width: number of target columns after encoding (1 for class indices and single regression targets).
    """

    def __init__(self, name: str = "output"):
        self.name = name
        self.task: str | None = None
        self.classes: list[str] | None = None
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
            top = int(np.max(y)) + 1
            self.n_classes = max(len(class_names) if class_names else 0, top, 2)
            self.class_names = list(class_names) if class_names else None
        elif self.task == "multiclass":  # already one-hot
            self.n_classes = self.width
            self.class_names = list(class_names) if class_names else None
        return self

    def transform(self, y: np.ndarray, source: str = "") -> np.ndarray:
        """(rows,) int32 class indices, or float32 targets; unknown labels raise DataError."""
        y = np.asarray(y)
        where = f"{source}: " if source else ""
        if self.classes is not None:
            if not is_text(y):
                y = y.astype(str)
            labels = np.asarray([str(v) for v in y], dtype=object)
            classes = np.asarray(self.classes, dtype=object)
            idx = np.searchsorted(classes, labels)
            idx = np.minimum(idx, len(classes) - 1)
            unknown = classes[idx] != labels
            if unknown.any():
                i = int(np.argmax(unknown))
                raise DataError(
                    f"{where}row {i + 1} of output {self.name!r} has label {labels[i]!r}, which the training data "
                    f"does not have; known labels: {self.classes}"
                )
            return idx.astype(np.int32)
        if is_text(y):
            raise DataError(f"{where}output {self.name!r} was numeric in training but holds text labels here")
        if self.task in ("binary", "multiclass") and y.ndim == 1:
            bad = (y != np.round(y)) | (y < 0) | (y >= self.n_classes)
            if bad.any():
                i = int(np.argmax(bad))
                raise DataError(
                    f"{where}row {i + 1} of output {self.name!r} has label {y[i].item()!r}; expected a class index in "
                    f"0..{self.n_classes - 1}"
                )
            return y.astype(np.int32)
        return y.astype(np.float32)

    def get_state(self) -> dict:
        state = {"name": self.name, "task": self.task, "width": self.width}
        if self.classes is not None:
            state["classes"] = list(self.classes)
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
        enc.class_names = as_str_list(state["class_names"]) if "class_names" in state else None
        enc.n_classes = int(state["n_classes"]) if "n_classes" in state else None
        return enc
