"""The search space of `nntrain tune` and the `repeat:` block: checked before any trial, each mistake at its
FILE:LINE:COL with the key path and a closest match; a repeated block is the same model as the layers written out."""

from __future__ import annotations

import pytest

from nntrain.config import load_config
from nntrain.config.search import load_space
from nntrain.errors import ConfigError

CONFIG = """\
name: s
seed: 1
data: {dataset: iris, preprocessing: [standardize]}
model:
  layers:
    - repeat:
        times: 2
        layers:
          - Dense: {units: 5, activation: relu, name: hidden}
    - Dense: {units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: adam
training: {epochs: 2, validation_split: 0.2}
search:
  params:
PARAMS"""


def write(tmp_path, params: str, name="c.yaml"):
    path = tmp_path / name
    path.write_text(CONFIG.replace("PARAMS", params))
    return path


def test_repeat_is_the_layers_written_out(tmp_path):
    path = write(tmp_path, "    training.batch_size: {choice: [8]}\n")
    layers = load_config(path)["model"]["layers"]
    assert [(layer["type"], layer.get("name"), layer.get("units")) for layer in layers] == [
        ("Dense", "hidden_1", 5), ("Dense", "hidden_2", 5), ("Dense", None, 3)]
    none = load_config(path, ["model.layers.0.repeat.times=0"])["model"]["layers"]
    assert [layer["units"] for layer in none] == [3]


def test_a_mistake_inside_a_repeat_points_at_its_line(tmp_path):
    path = write(tmp_path, "    training.batch_size: {choice: [8]}\n").as_posix()
    with pytest.raises(ConfigError) as err:
        load_config(path, ["model.layers.0.repeat.layers.0.Dense.units=1.5"])
    assert f"{path}:9:" in str(err.value) and "expected an integer" in str(err.value)
    with pytest.raises(ConfigError, match=r":7:\d+  model.layers.0.repeat.tims: unknown key `tims` \(did you mean "
                                          r"`times`\?\)"):
        load_config(path, ["model.layers.0.repeat.tims=2"])


def test_a_valid_space_is_read_with_every_distribution(tmp_path):
    path = write(tmp_path, """\
    optimizer.learning_rate: {loguniform: [3.0e-4, 3.0e-2]}
    model.layers.0.repeat.times: {int: [0, 3]}
    model.layers.0.repeat.layers.0.Dense.units: {int: [4, 64], log: true}
    training.batch_size: {choice: [16, 32]}
    training.validation_split: {uniform: [0.1, 0.3], step: 0.1}
""")
    space = load_space(path)
    assert [(p.path, p.kind) for p in space.params] == [
        ("optimizer.learning_rate", "loguniform"), ("model.layers.0.repeat.times", "int"),
        ("model.layers.0.repeat.layers.0.Dense.units", "int"), ("training.batch_size", "choice"),
        ("training.validation_split", "uniform")]
    assert space.objective == "val_loss" and space.sampler == {"name": "tpe"} and space.pruner == {"name": "none"}
    assert space.params[1].grid() == [0, 1, 2, 3]
    assert space.params[4].grid() == pytest.approx([0.1, 0.2, 0.3])


@pytest.mark.parametrize("params, line, fragments", [
    ("    optimizer.learnin_rate: {loguniform: [3.0e-4, 3.0e-2]}\n", 16,
     ["search.params.optimizer.learnin_rate", "did you mean `learning_rate`?"]),
    ("    model.layers.0.repeat.layers.0.Dense.units: {uniform: [1, 100]}\n", 16,
     ["Dense.units = 1.0 does not fit the config", "expected an integer"]),
    ("    training.batch_size: {int: [64, 16]}\n", 16, ["an empty range: low (64) must be below high (16)"]),
    ("    optimizer.learning_rate: {loguniform: [0, 0.1]}\n", 16, ["a log scale needs low > 0"]),
    ("    optimizer.learning_rate: {logunifrom: [0.001, 0.1]}\n", 16, ["did you mean `loguniform`?"]),
    ("    model.layers.7.Dense.units: {int: [1, 9]}\n", 16, ["`model.layers` has 2 items, no item 7"]),
    ("    training.batch_size: {choice: []}\n", 16, ["expected a non-empty list of values"]),
])
def test_a_bad_space_is_refused_before_any_trial(tmp_path, params, line, fragments):
    path = write(tmp_path, params)
    with pytest.raises(ConfigError) as err:
        load_space(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}:"), message
    for fragment in fragments:
        assert fragment in message, message


def test_settings_are_checked_with_a_closest_match(tmp_path):
    path = write(tmp_path, "    optimizer.learning_rate: {uniform: [0.001, 0.1]}\n")
    text = path.read_text().replace("search:\n", "search:\n  pruner: medain\n  sampler: grid\n  tirals: 3\n")
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_space(path)
    message = str(err.value)
    assert "3 problems" in message
    for fragment in ("search.pruner: expected one of none, median", "(did you mean `median`?)",
                     "search.tirals: unknown key `tirals` (did you mean `trials`?)",
                     "a grid search needs a finite set of values"):
        assert fragment in message


def test_a_space_file_of_its_own_and_fit_ignores_the_section(tmp_path):
    config = write(tmp_path, "    training.batch_size: {choice: [8]}\n")
    space = tmp_path / "space.yaml"
    space.write_text("params:\n  optimizer.learning_rate: {loguniform: [1.0e-4, 1]}\n"
                     "  training.epochs: {int: [1, 0]}\n")
    with pytest.raises(ConfigError, match=rf"^{space}:3:26  search.params.training.epochs.int: an empty range"):
        load_space(config, space_file=space)
    assert "search" not in load_config(config).resolved
