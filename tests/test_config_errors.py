"""Broken configs: each exits 2 with one clear message naming the file, line and key, no traceback, and
nothing is created under runs/."""

from __future__ import annotations

import re

import pytest

from tests.helpers import invoke

GOOD = """\
name: broken
seed: 1
data:
  dataset: iris
  preprocessing: [standardize]
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: 2, batch_size: 16, validation_split: 0.2}
callbacks:
  - early_stopping: {patience: 3}
"""

FUNCTIONAL = """\
seed: 1
data:
  dataset: iris
model:
  inputs: {x: [4]}
  layers:
    - {name: a, type: Dense, units: 8, inputs: x}
    - {name: b, type: Dense, units: 8, inputs: x}
    - {name: join, type: Concatenate, inputs: [a, b]}
    - {name: out, type: Dense, units: 3, activation: softmax, inputs: join}
  outputs: [out]
loss: sparse_categorical_crossentropy
training: {epochs: 1}
"""


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


# (id, config text, [fragments the message must contain])
CASES = [
    ("yaml-syntax", replace(GOOD, "units: 8, activation: relu}", "units: 8, activation: relu"),
     [":9:", "YAML syntax error", "line 8"]),
    ("unknown-section", replace(GOOD, "training:", "trainig:"), [":13:", "trainig", "did you mean `training`"]),
    ("misspelled-optimizer", replace(GOOD, "name: adam", "name: adma"), [":12:", "optimizer", "did you mean `adam`"]),
    ("misspelled-optimizer-arg", replace(GOOD, "learning_rate: 0.01", "learnin_rate: 0.01"),
     [":12:", "learnin_rate", "did you mean `learning_rate`"]),
    ("negative-learning-rate", replace(GOOD, "learning_rate: 0.01", "learning_rate: -0.01"), [":12:", "learning_rate"]),
    ("negative-units", replace(GOOD, "units: 8", "units: -8"), [":8:", "model.layers.0", "units"]),
    ("units-wrong-type", replace(GOOD, "units: 8", "units: eight"), [":8:", "units", "expected an integer"]),
    ("unknown-layer", replace(GOOD, "- Dense: {units: 8", "- Dnse: {units: 8"), [":8:", "did you mean `Dense`"]),
    ("unknown-activation", replace(GOOD, "activation: relu", "activation: rleu"), [":8:", "did you mean `relu`"]),
    ("unknown-layer-arg", replace(GOOD, "activation: relu", "activaton: relu"), [":8:", "did you mean `activation`"]),
    ("unknown-loss", replace(GOOD, "loss: sparse_categorical_crossentropy", "loss: sparse_crossentropy"),
     [":10:", "loss", "did you mean"]),
    ("unknown-metric", replace(GOOD, "metrics: [accuracy]", "metrics: [acuracy]"), [":11:", "did you mean `accuracy`"]),
    ("zero-epochs", replace(GOOD, "epochs: 2", "epochs: 0"), [":13:", "training.epochs", ">= 1"]),
    ("bad-batch-size", replace(GOOD, "batch_size: 16", "batch_size: half"), [":13:", "training.batch_size", "full"]),
    ("validation-split-out-of-range", replace(GOOD, "validation_split: 0.2", "validation_split: 1.5"),
     [":13:", "validation_split", "< 1"]),
    ("unknown-callback", replace(GOOD, "early_stopping:", "erly_stopping:"), [":15:", "did you mean `early_stopping`"]),
    ("misspelled-callback-arg", replace(GOOD, "patience: 3", "patiense: 3"), [":15:", "did you mean `patience`"]),
    ("dropout-rate", replace(GOOD, "    - Dense: {units: 3", "    - Dropout: {rate: 1.5}\n    - Dense: {units: 3"),
     [":9:", "Dropout", "rate"]),
    ("negative-seed", replace(GOOD, "seed: 1", "seed: -1"), [":2:", "seed", "non-negative"]),
    ("missing-model", GOOD.split("model:")[0] + "loss: mse\n", ["missing section `model`"]),
    ("empty-layers", replace(GOOD, """    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
""", "    []\n").replace("  layers:\n    []", "  layers: []"), ["model.layers", "non-empty"]),
    ("unknown-dataset", replace(GOOD, "dataset: iris", "dataset: irsi"), ["irsi", "did you mean `iris`"]),
    ("unknown-preprocessing", replace(GOOD, "[standardize]", "[standardise]"), [":5:", "did you mean `standardize`"]),
    ("missing-data-file", replace(GOOD, "dataset: iris", "train: no_such_file.csv\n  target: species"),
     ["no_such_file.csv"]),
    ("labels-do-not-fit-loss", replace(GOOD, "loss: sparse_categorical_crossentropy", "loss: categorical_crossentropy"),
     ["categorical_crossentropy", "label"]),
    ("label-out-of-range-for-output", replace(GOOD, "units: 3, activation: softmax", "units: 2, activation: softmax"),
     [":10:", "has 2 units, but its labels have 3 classes", "units: 3"]),
    ("input-width", replace(GOOD, "model:\n", "model:\n  input_shape: [5]\n"), ["input", "(None, 5)", "(None, 4)"]),
    ("unknown-reference", replace(FUNCTIONAL, "inputs: [a, b]", "inputs: [a, bb]"),
     [":9:", "`bb`", "did you mean `b`"]),
    ("shape-cannot-fit", replace(FUNCTIONAL, "{name: b, type: Dense, units: 8, inputs: x}",
                                 "{name: b, type: Reshape, target_shape: [2, 2], inputs: x}"),
     [":9:", "join", "(None, 8)", "(None, 2, 2)"]),
    ("unknown-output", replace(FUNCTIONAL, "outputs: [out]", "outputs: [ou]"),
     [":11:", "model.outputs", "did you mean `out`"]),
    ("cycle", replace(FUNCTIONAL, "{name: a, type: Dense, units: 8, inputs: x}", "{name: a, type: Dense, units: 8, inputs: out}"),
     ["cycle"]),
    ("unused-input", replace(FUNCTIONAL, "inputs: {x: [4]}", "inputs: {x: [4], extra: [3]}"), ["extra", "not used"]),
    ("functional-layer-without-inputs", replace(FUNCTIONAL, ", inputs: join}", "}"), [":10:", "inputs"]),
    ("custom-callback-missing", replace(GOOD, "early_stopping: {patience: 3}", "my_callbacks:Missing: {}"),
     [":15:", "my_callbacks"]),
    ("empty-file", "", ["empty"]),
    ("class-weight-type", replace(GOOD, "validation_split: 0.2}", "validation_split: 0.2, class_weight: {0: heavy}}"),
     [":13:", "class_weight"]),
]


@pytest.mark.parametrize("case_id,text,fragments", CASES, ids=[c[0] for c in CASES])
def test_broken_config_exits_2_with_a_located_message(tmp_path, case_id, text, fragments):
    config = tmp_path / "config.yaml"
    config.write_text(text)
    result = invoke("fit", config, "--runs-dir", tmp_path / "runs", cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "Traceback" not in out
    for fragment in fragments:
        assert fragment in out, f"{fragment!r} not in: {out}"
    if case_id != "empty-file":
        assert re.search(r"config\.yaml:\d+:\d+", out), out
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    # one paragraph: no blank lines inside the message
    assert "\n\n" not in result.stderr.strip()


def test_several_mistakes_are_reported_at_once(tmp_path):
    text = replace(replace(GOOD, "name: adam", "name: adma"), "units: 8", "units: -8")
    text = replace(text, "patience: 3", "patiense: 3")
    config = tmp_path / "config.yaml"
    config.write_text(text)
    result = invoke("check", config, cwd=tmp_path)
    assert result.returncode == 2
    assert "3 problems" in result.stderr
    for line in (":8:", ":12:", ":15:"):
        assert line in result.stderr


def test_set_override_is_typed_and_validated(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(GOOD)
    ok = invoke("check", config, "--set", "training.epochs=50", "--set", "optimizer.learning_rate=3e-4",
                "--set", "model.layers.0.units=16", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "epochs: 50" in ok.stdout
    assert "learning_rate: 0.0003" in ok.stdout
    assert "units: 16" in ok.stdout
    assert "(None, 16)" in ok.stdout
    named = invoke("check", config, "--set", "name=2024", cwd=tmp_path)  # a string where the schema says so
    assert named.returncode == 0, named.stderr
    assert "name: '2024'" in named.stdout
    bad = invoke("check", config, "--set", "training.epochs=-5", cwd=tmp_path)
    assert bad.returncode == 2
    assert "training.epochs" in bad.stderr and "--set" in bad.stderr
    # a value the schema accepts but the optimizer rejects: the message says it came from --set, not the file
    rejected = invoke("check", config, "--set", "optimizer.learning_rate=abc", cwd=tmp_path)
    assert rejected.returncode == 2 and "Traceback" not in rejected.stderr
    assert "got learning_rate='abc' (from --set optimizer.learning_rate)" in rejected.stderr
