"""Text folders (aclImdb layout) and the tokenizer."""

import numpy as np
import pytest

from nntrain.data import Tokenizer, describe, load_raw, read_inputs
from nntrain.engine.sparse import MultiHot
from nntrain.errors import DataError
from tests.data_helpers import data_bundle

REVIEWS = {
    "neg": ["A bad, bad movie.<br /><br />Boring plot.", "Awful acting and a bad script", "Boring. Bad."],
    "pos": ["A great movie: great acting!", "Great fun, I loved it", "Loved the plot and the acting"],
}


@pytest.fixture
def imdb_folder(tmp_path):
    for split in ("train", "test"):
        for label, texts in REVIEWS.items():
            folder = tmp_path / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i, text in enumerate(texts):
                (folder / f"{i}_{7 if label == 'pos' else 2}.txt").write_text(text)
    # aclImdb/train also has unlabelled reviews; `classes` leaves them out
    (tmp_path / "aclImdb" / "train" / "unsup").mkdir()
    (tmp_path / "aclImdb" / "train" / "unsup" / "0_0.txt").write_text("unlabelled")
    return tmp_path


def test_tokenizer_keeps_the_most_frequent_words():
    tok = Tokenizer(num_words=3).fit(["the cat the dog", "The bird, the cat!", "a cat"])
    # counts: the 4, cat 3, then a/bird/dog 1 each (ties alphabetical)
    assert tok.vocabulary == ["the", "cat", "a"]
    assert tok.vocab_size == 5
    (seq,) = tok.transform(["The dog and a cat"])
    np.testing.assert_array_equal(seq, [2, 1, 1, 4, 3])  # 0 padding, 1 out-of-vocabulary, words from 2


def test_tokenizer_words():
    tok = Tokenizer()
    assert tok.words("Don't stop<br />NOW, it's 2 good") == ["don't", "stop", "now", "it's", "2", "good"]
    assert Tokenizer(lowercase=False).words("Big big") == ["Big", "big"]


def test_text_folder_end_to_end(imdb_folder):
    spec = {"train": "aclImdb/train", "test": "aclImdb/test", "classes": ["neg", "pos"],
            "tokenizer": {"num_words": 4}, "preprocessing": ["multi_hot"]}
    b = data_bundle(spec, imdb_folder)
    assert b.class_names == {"output": ["neg", "pos"]} and b.info["task"] == "binary"
    assert isinstance(b.train.x, MultiHot) and b.train.x.shape == (6, 6)
    np.testing.assert_array_equal(b.train.y, [0, 0, 0, 1, 1, 1])
    vocab = b.preprocessor.inputs["input"].encoder.vocabulary
    # training counts: bad 4; a, acting, great 3 each (ties alphabetical); then movie, boring, ... 2
    assert vocab == ["bad", "a", "acting", "great"]
    assert len(b.test) == 6


def test_text_folder_defaults_to_all_class_folders(imdb_folder):
    raw = load_raw({"train": "aclImdb/train"}, imdb_folder)
    assert raw.class_names == {"output": ["neg", "pos", "unsup"]}
    with pytest.raises(DataError, match=r"no class folder 'postive' \(did you mean `pos`\?\)"):
        load_raw({"train": "aclImdb/train", "classes": ["neg", "postive"]}, imdb_folder)


def test_text_padded_ids_and_predict_from_lines(imdb_folder, tmp_path):
    spec = {"train": "aclImdb/train", "classes": ["neg", "pos"], "tokenizer": {"num_words": 10},
            "preprocessing": [{"pad_sequences": {"maxlen": 5}}]}
    b = data_bundle(spec, imdb_folder)
    assert b.train.x.dtype == np.int32 and b.train.x.shape == (6, 5)
    lines = tmp_path / "new.txt"
    lines.write_text("a great movie\nbad bad bad bad bad bad\n\nzzz unknown words\n")
    chunks = list(read_inputs(lines, b.preprocessor, batch_size=3))
    assert [c.shape for c in chunks] == [(3, 5)]  # a blank line is no document: skipped
    tok = b.preprocessor.inputs["input"].encoder
    ids = [tok._ids[w] for w in ("a", "great", "movie")]
    np.testing.assert_array_equal(chunks[0][0], [0, 0, *ids])
    np.testing.assert_array_equal(chunks[0][1], [tok._ids["bad"]] * 5)
    np.testing.assert_array_equal(chunks[0][2], [0, 0, 1, 1, 1])  # out-of-vocabulary words are 1


def test_describe_text_folder(imdb_folder):
    d = describe({"train": "aclImdb/train", "classes": ["neg", "pos"], "tokenizer": {"num_words": 100},
                  "preprocessing": ["multi_hot"]}, imdb_folder)
    assert d["inputs"] == {"input": (102,)}
    assert d["outputs"]["output"]["class_names"] == ["neg", "pos"]
