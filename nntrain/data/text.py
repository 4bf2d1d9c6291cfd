"""Tokenizer: documents -> integer word-id sequences, with a vocabulary fitted on the training texts.

Ids follow the Keras convention of reserving the lowest ids: 0 is padding, 1 stands for any word outside the
vocabulary, and the vocabulary's words get 2, 3, ... in order of decreasing training frequency (ties broken
alphabetically, so the vocabulary is deterministic).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

from nntrain.data.raw import object_array
from nntrain.data.state import as_str_list, plain

OOV_ID = 1
FIRST_WORD_ID = 2

_TAG = re.compile(r"<[^>]*>")  # aclImdb reviews carry <br /> tags
_WORD = re.compile(r"\w+(?:'\w+)*")


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
