"""Config values of the wrong type or shape that fuzzing found crashing: each is now refused with exit 2 and one
`error:` paragraph naming the file, line and key (nntrain check, in-process)."""

from __future__ import annotations

import re

import pytest

from tests.helpers import refused
from tests.test_config_errors import FUNCTIONAL

SEQUENTIAL = """\
name: hostile
seed: 1
data:
  dataset: iris
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: 1}
"""

SECOND_LAYER_INPUTS = "units: 8, inputs: x}\n    - {name: join"  # layer b reads x (line 8 of FUNCTIONAL)


def changed(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


CASES = [
    ("activation-list", changed(SEQUENTIAL, "activation: relu", "activation: [softmax]"), [":7:", "activation"]),
    ("activation-number", changed(SEQUENTIAL, "activation: relu", "activation: 1.5"), [":7:", "activation", "1.5"]),
    ("activation-bool", changed(SEQUENTIAL, "activation: relu", "activation: true"), [":7:", "activation"]),
    ("optimizer-without-name", changed(SEQUENTIAL, "{name: adam, learning_rate: 0.01}", "{learning_rate: 0.01}"),
     [":10:", "optimizer", "name:"]),
    ("optimizer-name-null", changed(SEQUENTIAL, "name: adam", "name: null"), [":10:", "optimizer.name"]),
    ("layer-inputs-null", changed(FUNCTIONAL, SECOND_LAYER_INPUTS, SECOND_LAYER_INPUTS.replace("x}", "null}")),
     [":8:", "model.layers.1.inputs"]),
    ("layer-inputs-bool", changed(FUNCTIONAL, SECOND_LAYER_INPUTS, SECOND_LAYER_INPUTS.replace("x}", "true}")),
     [":8:", "model.layers.1.inputs"]),
    ("layer-inputs-nested", changed(FUNCTIONAL, "inputs: [a, b]", "inputs: [a, [b]]"),
     [":9:", "model.layers.2.inputs.1"]),
    ("model-input-float", changed(FUNCTIONAL, "{x: [4]}", "{x: 5.0}"), [":5:", "model.inputs.x"]),
    ("model-input-string", changed(FUNCTIONAL, "{x: [4]}", "{x: '[5]'}"), [":5:", "model.inputs.x"]),
    ("outputs-nested", changed(FUNCTIONAL, "outputs: [out]", "outputs: [[out]]"), [":11:", "model.outputs.0"]),
    ("outputs-bool", changed(FUNCTIONAL, "outputs: [out]", "outputs: [false]"), [":11:", "model.outputs.0"]),
    ("absurd-width", changed(SEQUENTIAL, "units: 8", "units: 2000000000"), ["model"]),
    ("checkpoint-positional-field", SEQUENTIAL + "callbacks:\n  - model_checkpoint: {filepath: 'ck-{0}.h5'}\n",
     [":13:", "filepath", "{0}"]),
    ("checkpoint-bad-format", SEQUENTIAL + "callbacks:\n  - model_checkpoint: {filepath: 'ck-{epoch:s}.h5'}\n",
     [":13:", "filepath", "Unknown format code"]),
]


@pytest.mark.parametrize("case_id,text,fragments", CASES, ids=[c[0] for c in CASES])
def test_a_value_of_the_wrong_type_is_a_located_error(tmp_path, case_id, text, fragments):
    (tmp_path / "config.yaml").write_text(text)
    message = refused("check", tmp_path / "config.yaml")
    assert re.search(r"config\.yaml:\d+:\d+", message), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_hundreds_of_nesting_levels_are_an_error_not_a_recursion_crash(tmp_path):
    (tmp_path / "config.yaml").write_text(SEQUENTIAL + "callbacks: " + "[" * 500 + "]" * 500 + "\n")
    assert "config.yaml" in refused("check", tmp_path / "config.yaml")


@pytest.mark.parametrize("module,source,where", [  # module names of their own: imports are cached per process
    ("syntax_error_cb", "from nntrain.training.callbacks import Callback\nclass Fire(Callback)\n    pass\n",
     "syntax_error_cb.py:2"),
    ("raising_cb", "from nntrain.training.callbacks import Callback\n1 / 0\n", "ZeroDivisionError"),
])
def test_a_custom_callback_module_that_cannot_be_imported_is_located(tmp_path, module, source, where):
    (tmp_path / f"{module}.py").write_text(source)
    (tmp_path / "config.yaml").write_text(SEQUENTIAL + f"callbacks:\n  - {module}:Fire: {{}}\n")
    message = refused("check", tmp_path / "config.yaml")
    assert "config.yaml:13:" in message and f"callbacks.0.{module}:Fire" in message and where in message, message
