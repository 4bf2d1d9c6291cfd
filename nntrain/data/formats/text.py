"""Text: a folder with one sub-folder of .txt documents per class (the aclImdb layout) for training, and a .txt
file of one document per line for `nntrain predict`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nntrain.data.encoders import FIRST_WORD_ID
from nntrain.data.formats.base import Described, FileData, Format, expected_inputs
from nntrain.data.raw import RawSplit, object_array
from nntrain.errors import DataError
from nntrain.registry import did_you_mean


def text_classes(folder: Path, classes: list[str] | None = None) -> list[str]:
    """The class sub-folders of a text folder: `classes` (checked), or every sub-folder with .txt files, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: {'is a file, not a folder' if folder.exists() else 'not found'}")
    found = sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.txt")))
    if classes is None:
        if len(found) < 2:
            raise DataError(
                f"{folder}: a text folder needs one sub-folder of .txt files per class (at least 2), found {found}"
            )
        return found
    for c in classes:
        if not (folder / c).is_dir():
            raise DataError(f"{folder}: no class folder {c!r}{did_you_mean(c, found)}; sub-folders: {found}")
    return list(classes)


def read_text_folder(folder: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Documents of a class-per-sub-folder text folder.

    Returns:
        docs: (rows,) object array of str, classes in order, files sorted by name within a class.
        labels: (rows,) int64 class index (position in `classes`).
    """
    docs, labels = [], []
    for label, name in enumerate(classes):
        for f in sorted((Path(folder) / name).glob("*.txt")):
            docs.append(f.read_text(encoding="utf-8", errors="replace"))
            labels.append(label)
    if not docs:
        raise DataError(f"{folder}: no .txt files in the class folders {classes}")
    return object_array(docs), np.asarray(labels, dtype=np.int64)


class TextFolder(Format):
    """Classes are the sub-folder names (sorted, or data.classes); a test folder must have the training classes."""

    name = "text_folder"

    @property
    def shown(self) -> str:
        return f"{self.name} (a folder with one sub-folder of .txt files per class)"

    def read(self, path, spec, like=None, default_target=None) -> FileData:
        classes = like.classes if like is not None and like.classes else text_classes(path, spec.get("classes"))
        if like is not None:
            text_classes(path, classes)  # the test folder must have the training classes
        docs, labels = read_text_folder(path, classes)
        split = RawSplit({"input": docs}, {"output": labels}, np.arange(len(docs), dtype=np.int64), str(path))
        return FileData(split, {"input": "text"}, {"input": {"type": "text"}}, {}, {"output": list(classes)}, classes)

    def describe(self, path, spec) -> Described:
        classes = text_classes(path, spec.get("classes"))
        num_words = dict(spec.get("tokenizer") or {}).get("num_words")
        task = "binary" if len(classes) == 2 else "multiclass"
        return Described({"input": (None,)}, {"output": (task, len(classes), 1, list(classes))},
                         {"input": {"vocab_size": num_words + FIRST_WORD_ID if num_words else None}})


class TextLines(Format):
    """One document per line (blank lines skipped), streamed; for models trained on a text folder."""

    name, suffixes = "text_lines", (".txt",)

    @property
    def shown(self) -> str:
        return f"{self.name} (.txt, one document per line, for predict)"

    def _not_for_training(self, path: Path) -> DataError:
        return DataError(
            f"{path}: a .txt file is read by `nntrain predict`, one document per line; to train on text, give a "
            "folder with one sub-folder of .txt files per class"
        )

    def read(self, path, spec, like=None, default_target=None) -> FileData:
        raise self._not_for_training(path)

    def describe(self, path, spec) -> Described:
        raise self._not_for_training(path)

    def stream(self, path, pre, batch_size) -> Iterator[dict]:
        names = list(pre.inputs)
        if len(names) != 1 or pre.inputs[names[0]].kind != "text":
            raise DataError(f"{path}: text lines need a model trained on text; this one expects {expected_inputs(pre)}")
        with open(path, encoding="utf-8", errors="replace") as fp:
            batch: list[str] = []
            for line in fp:
                if not line.strip():
                    continue  # a blank line is no document: it gets no prediction (predict reports how many)
                batch.append(line.rstrip("\r\n"))
                if len(batch) == batch_size:
                    yield {names[0]: np.array(batch, dtype=object)}
                    batch = []
            if batch:
                yield {names[0]: np.array(batch, dtype=object)}


TEXT_FOLDER, TEXT_LINES = TextFolder(), TextLines()
