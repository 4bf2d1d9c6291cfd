"""A model trained from a folder of text files per class predicts raw text lines, the tokenizer and multi-hot
vectorization stored in its checkpoint re-applied."""

from __future__ import annotations

import csv
import random

import pytest

from tests.helpers import invoke

POSITIVE = ["great", "wonderful", "loved", "excellent", "superb", "fun", "brilliant"]
NEGATIVE = ["awful", "boring", "terrible", "hated", "bad", "dull", "waste"]
FILLER = ["the", "movie", "was", "a", "film", "and", "plot", "actors", "story", "it"]

CONFIG = """\
name: reviews
seed: 1
data:
  train: reviews/train
  test_split: 0.25
  tokenizer: {num_words: 50}
  preprocessing:
    - multi_hot: {dimension: 50}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 1, activation: sigmoid}
loss: binary_crossentropy
metrics: [accuracy]
optimizer: {name: rmsprop, learning_rate: 0.01}
training: {epochs: 15, batch_size: 16}
"""


def test_predict_raw_text_lines_with_the_stored_vocabulary(tmp_path):
    rnd = random.Random(0)
    for label, words in (("pos", POSITIVE), ("neg", NEGATIVE)):
        folder = tmp_path / "reviews" / "train" / label
        folder.mkdir(parents=True)
        for i in range(60):
            text = " ".join(rnd.choice(FILLER) for _ in range(8)) + " " + " ".join(rnd.choice(words) for _ in range(3))
            (folder / f"{i}.txt").write_text(text)
    (tmp_path / "text.yaml").write_text(CONFIG)
    assert invoke("fit", "text.yaml", "-q", cwd=tmp_path).returncode == 0
    (tmp_path / "new.txt").write_text("the movie was wonderful and brilliant\n\nboring and awful plot, a waste\n"
                                      "Loved it: SUPERB actors!\n   \n")
    result = invoke("predict", "runs/reviews", "new.txt", "--proba", "--output", "out.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "skipped 2 blank lines" in result.stderr  # a blank line is no document: no prediction for it
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert [r["prediction"] for r in rows] == ["pos", "neg", "pos"]  # lower-cased and tokenized like training
    assert all(float(r["p_pos"]) + float(r["p_neg"]) == pytest.approx(1.0) for r in rows)
