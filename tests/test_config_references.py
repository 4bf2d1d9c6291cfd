"""Honest messages about a functional model's wiring: an unknown output is named as such (not as losses and metrics
without an output), a cycle is reported at the layer that closes it."""

from __future__ import annotations

import pytest

from tests.hardening import assert_user_error, invoke

FUNCTIONAL = """\
name: wired
data: {dataset: iris}
model:
  inputs: {x: [4]}
  layers:
    - Dense: {units: 8, name: hidden, inputs: x}
    - Dense: {units: 3, activation: softmax, name: main, inputs: hidden}
  outputs: OUTPUTS
loss: LOSS
metrics: METRICS
"""


@pytest.mark.parametrize("loss, metrics", [
    ("sparse_categorical_crossentropy", "[accuracy]"),
    ("{main: sparse_categorical_crossentropy}", "{main: [accuracy]}"),
])
def test_an_unknown_output_is_named_with_the_closest_layer(tmp_path, loss, metrics):
    text = FUNCTIONAL.replace("OUTPUTS", "[mian]").replace("LOSS", loss).replace("METRICS", metrics)
    (tmp_path / "m.yaml").write_text(text)
    err = assert_user_error(invoke("check", "m.yaml", cwd=tmp_path),
                            "m.yaml:8:13  model.outputs.0: `mian` is not a layer (did you mean `main`?); layers: "
                            "hidden, main")
    assert "loss" not in err and "metrics" not in err


def test_an_output_written_as_one_name(tmp_path):
    text = FUNCTIONAL.replace("OUTPUTS", "mian").replace("LOSS", "mse").replace("METRICS", "[]")
    (tmp_path / "m.yaml").write_text(text)
    assert_user_error(invoke("check", "m.yaml", cwd=tmp_path), "m.yaml:8:12  model.outputs: `mian` is not a layer")


def test_an_unnamed_layer_is_known_by_the_name_the_model_gives_it(tmp_path):
    text = FUNCTIONAL.replace("name: main, ", "").replace("OUTPUTS", "[dense]").replace("LOSS", "mse")
    (tmp_path / "m.yaml").write_text(text.replace("METRICS", "[]"))
    result = invoke("check", "m.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_cycle_is_reported_at_the_layer(tmp_path):
    (tmp_path / "c.yaml").write_text("""\
name: cycle
data: {dataset: iris}
model:
  inputs: {x: [4]}
  layers:
    - Dense: {units: 8, name: a, inputs: [x]}
    - Concatenate: {name: b, inputs: [a, c]}
    - Dense: {units: 8, name: c, inputs: b}
    - Dense: {units: 3, activation: softmax, name: main, inputs: c}
  outputs: main
loss: sparse_categorical_crossentropy
""")
    assert_user_error(invoke("check", "c.yaml", cwd=tmp_path), "c.yaml:8:7  model.layers.2: the layers form a cycle: "
                                                               "c -> b -> c")
