"""Issue 18, point 1: data-dependent mistakes are found by one preparation stage, before anything is written.

Each mistake of the corpus goes through `nntrain check --data` and `nntrain fit`: both exit 2 with one `error:`
paragraph naming the config key or the data column at fault (the same message), and nothing appears under runs/.
A mistake `nntrain check` alone (no data read) cannot see is still caught by `check --data`.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import invoke, refused

LAYERS = "    - Dense: {units: 4, activation: relu}\n    - Dense: {units: 3, activation: softmax}\n"


def _table(rows: int = 60, seed: int = 0) -> list[list]:
    rng = np.random.default_rng(seed)
    colors, labels = ["red", "green", "blue"], ["high", "low", "mid"]
    return [[f"{rng.normal():.3f}", f"{rng.normal():.3f}", colors[i % 3], f"{1 + i % 4}", labels[i % 3], f"u{i}"]
            for i in range(rows)]


def _csv(rows: list[list], header: str = "x1,x2,color,w,label,id") -> str:
    return header + "\n" + "".join(",".join(r) + "\n" for r in rows)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The data files every mistake uses, in one folder."""
    root = tmp_path_factory.mktemp("mistakes")
    rows = _table()
    (root / "train.csv").write_text(_csv(rows))
    (root / "test-unseen.csv").write_text(_csv([[*r[:2], "purple", *r[3:]] for r in _table(6, 1)]))
    (root / "test-label.csv").write_text(_csv([[*r[:4], "extreme", r[5]] for r in _table(6, 1)]))
    # one cell changed: (file, data row, column position, value)
    for name, row, column, value in (("missing", 4, 0, "NA"), ("no-label", 7, 4, ""), ("word", 9, 1, "abc"),
                                     ("negative", 3, 3, "-1")):
        changed = [list(r) for r in rows]
        changed[row][column] = value
        (root / f"{name}.csv").write_text(_csv(changed))
    zero = [[*r[:3], "0", *r[4:]] for r in rows]
    (root / "zero.csv").write_text(_csv(zero))
    for cls, words in (("neg", "bad awful dull"), ("pos", "good great fine")):
        (root / "texts" / cls).mkdir(parents=True)
        for i in range(6):
            (root / "texts" / cls / f"{i}.txt").write_text(f"{words} {words.split()[i % 3]} film")
    return root


def config(data: str = "", layers: str = LAYERS, loss: str = "sparse_categorical_crossentropy",
           metrics: str = "[accuracy]", training: str = "{epochs: 1, validation_split: 0.2}", callbacks: str = "",
           train: str = "train.csv", target: str = "label", features: str = "[x1, x2, color]") -> str:
    head = f"  train: {train}\n" + (f"  target: {target}\n" if target else "") + (
        f"  features: {features}\n" if features else "")
    return (f"name: mistake\nseed: 1\ndata:\n{head}{data}model:\n  layers:\n{layers}loss: {loss}\n"
            f"metrics: {metrics}\ntraining: {training}\n" + (f"callbacks:\n{callbacks}" if callbacks else ""))


TEXT = dict(train="texts", target="", features="", loss="binary_crossentropy")
BINARY = "    - Dense: {units: 1, activation: sigmoid}\n"

# name -> (config, fragments every message holds: the key or column at fault, and what fixes it)
MISTAKES = {
    "class_weight names an unknown class": (
        config(training="{epochs: 1, class_weight: {hgh: 2.0, low: 1.0, mid: 1.0}}"),
        ["training.class_weight.hgh", "'hgh'", "0 = 'high'"]),
    "class_weight index out of range": (
        config(training="{epochs: 1, class_weight: {0: 1.0, 1: 1.0, 2: 1.0, 7: 2.0}}"),
        ["training.class_weight.7", "2 = 'mid'"]),
    "class_weight leaves a class out": (
        config(training="{epochs: 1, class_weight: {high: 2.0, low: 1.0}}"),
        ["training.class_weight", "'mid'"]),
    "class_weight on a regression target": (
        config(target="x2", features="[x1]", layers="    - Dense: {units: 1}\n", loss="mse", metrics="[mae]",
               training="{epochs: 1, class_weight: {0: 1.0}}"), ["training.class_weight", "regression"]),
    "monitor val_loss without validation": (
        config(training="{epochs: 1}", callbacks="  - early_stopping: {monitor: val_loss}\n"),
        ["monitor", "'val_loss'", "no validation set", "validation_split"]),
    "monitor val_acc (Keras 1's name)": (
        config(callbacks="  - early_stopping: {monitor: val_acc}\n"), ["monitor", "'val_acc'", "val_accuracy"]),
    "reduce_lr_on_plateau monitors a typo": (
        config(callbacks="  - reduce_lr_on_plateau: {monitor: los}\n"), ["monitor", "'los'", "loss"]),
    "model_checkpoint monitors a metric not compiled": (
        config(callbacks="  - model_checkpoint: {filepath: best.h5, monitor: val_auc}\n"), ["monitor", "'val_auc'"]),
    "top_k with integer labels": (config(metrics="[top_k_categorical_accuracy]"), ["metrics", "sparse_top_k"]),
    "categorical_accuracy with integer labels": (
        config(metrics="[categorical_accuracy]"), ["metrics", "sparse_categorical_accuracy"]),
    "categorical_crossentropy with integer labels": (config(loss="categorical_crossentropy"), ["loss"]),
    "two output units for three classes": (
        config(layers="    - Dense: {units: 2, activation: softmax}\n"), ["loss", "3 classes", "units: 3"]),
    "binary_crossentropy with three classes": (
        config(layers=BINARY, loss="binary_crossentropy"), ["loss", "3 classes", "units: 3"]),
    "input_shape narrower than the encoded columns": (
        config(data="", layers=LAYERS).replace("model:\n", "model:\n  input_shape: [3]\n"), ["model", "(None, 5)"]),
    "a missing feature value without impute": (
        config(train="missing.csv"), ["column 'x1'", "line 6", "impute"]),
    "a row without a label": (config(train="no-label.csv"), ["column 'label'", "line 9"]),
    "an ID column as a feature": (config(features="[x1, id]"), ["column 'id'", "48 distinct", "max_categories"]),
    "a word in a numeric column": (config(train="word.csv"), ["column 'x2'", "'abc' is not a number", "line 11"]),
    "a feature column that does not exist": (config(features="[x1, colour]"), ["'colour'", "did you mean `color`"]),
    "data.drop names no column": (config(features="", data="  drop: [identifier]\n"), ["drop column 'identifier'", "the columns are: x1, x2, color"]),
    "sample_weight names no column": (config(data="  sample_weight: wt\n"), ["sample weight column 'wt'"]),
    "sample_weight is negative": (
        config(train="negative.csv", data="  sample_weight: w\n"), ["column 'w'", "negative", "line 5"]),
    "sample_weight zero in every row": (
        config(train="zero.csv", data="  sample_weight: w\n"), ["data.sample_weight", "zero in every training row"]),
    "sample_weight is a text column": (
        config(features="[x1, x2]", data="  sample_weight: color\n"), ["'color'", "holds text"]),
    "a test category when handle_unknown is error": (
        config(data="  test: test-unseen.csv\n  categorical: {handle_unknown: error}\n"),
        ["column 'color'", "'purple'", "handle_unknown"]),
    "a test label the training rows lack": (config(data="  test: test-label.csv\n"), ["'extreme'", "high"]),
    "an Embedding smaller than the vocabulary": (
        config(**TEXT, data="  preprocessing: [pad_sequences]\n",
               layers="    - Embedding: {input_dim: 4, output_dim: 2}\n    - Flatten: {}\n" + BINARY),
        ["input_dim", "ids up to", "num_words"]),
    "text without multi_hot or pad_sequences": (config(**TEXT, layers=BINARY), ["multi_hot", "pad_sequences"]),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_check_data_and_fit_refuse_each_mistake_alike_before_writing(folder, name, tmp_path):
    text, fragments = MISTAKES[name]
    path = folder / f"{abs(hash(name))}.yaml"
    path.write_text(text)
    runs = tmp_path / "runs"
    checked = refused("check", path, "--data")
    fitted = refused("fit", path, "--runs-dir", runs, "-q")
    for fragment in fragments:
        assert fragment in checked, (fragment, checked)
    assert checked == fitted
    assert not runs.exists()


def test_the_corpus_is_at_least_twenty_mistakes():
    assert len(MISTAKES) >= 20


def test_check_data_accepts_what_fit_trains(folder, tmp_path):
    """A config that passes `check --data` trains; check prints the rows it prepared and writes nothing."""
    path = folder / "good.yaml"
    path.write_text(config(data="  sample_weight: w\n", training="{epochs: 1, validation_split: 0.2, "
                                                                   "class_weight: balanced}"))
    checked = invoke("check", path, "--data", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "48 training rows, 12 validation rows" in checked.stdout and "nothing written" in checked.stdout
    assert not (tmp_path / "runs").exists()
    fitted = invoke("fit", path, "--runs-dir", tmp_path / "runs", "-q")
    assert fitted.returncode == 0, fitted.stderr
