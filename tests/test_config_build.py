"""One config, many models: every build (check, fit, each kfold fold, the refit) gets its own layers, losses,
optimizer (with its schedule) and callbacks, all with the same initial weights; and errors find their config line
from the key path or layer name they carry, never from their message."""

from __future__ import annotations

import numpy as np
import pytest

from nntrain.config import load_config
from nntrain.config.build import build_callbacks, build_model, compile_model
from nntrain.errors import ConfigError, DataError, ShapeError

CONFIG = """\
seed: 5
data: {dataset: iris}
model:
  input_shape: [4]
  layers:
    - Dense: {units: 8, activation: relu}
    - Dropout: {rate: 0.1}
    - Dense: {units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
optimizer: {name: sgd, learning_rate: 0.1, schedule: {cosine_decay: {decay_steps: 100}}}
training: {epochs: 1}
callbacks:
  - early_stopping: {patience: 2}
  - csv_logger: {filename: log.csv}
"""

FUNCTIONAL = """\
seed: 1
data: {dataset: iris}
model:
  inputs: {x: [4]}
  layers:
    - {name: a, type: Dense, units: 8, inputs: x}
    - {name: b, type: Reshape, target_shape: [2, 2], inputs: x}
    - {name: join, type: Concatenate, inputs: [a, b]}
    - {name: out, type: Dense, units: 3, activation: softmax, inputs: join}
  outputs: [out]
loss: sparse_categorical_crossentropy
"""


def _config(tmp_path, text=CONFIG):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_config(path)


def _built(cfg, run_dir):
    model = build_model(cfg)
    compile_model(model, cfg)
    return model, build_callbacks(cfg, run_dir)


def test_each_build_gets_new_objects_with_the_same_initial_weights(tmp_path):
    cfg = _config(tmp_path)
    (m1, cb1), (m2, cb2), (m3, cb3) = (_built(cfg, tmp_path / f"run{i}") for i in range(3))
    for a, b in ((m1, m2), (m2, m3), (m1, m3)):
        assert not {id(x) for x in a.layers} & {id(x) for x in b.layers}
        assert a.optimizer is not b.optimizer and a.optimizer._schedule is not b.optimizer._schedule
        assert not {id(x) for x in a.losses} & {id(x) for x in b.losses}
    for a, b in ((cb1, cb2), (cb2, cb3)):
        assert not {id(x) for x in a} & {id(x) for x in b}
    for key, value in m1.get_weights().items():
        for other in (m2, m3):
            assert all(np.array_equal(value[k], other.get_weights()[key][k]) for k in value)
    assert [type(c).__name__ for c in cb1] == ["EarlyStopping", "CSVLogger"]
    assert [c.filename for c in (cb1[1], cb2[1], cb3[1])] == [str(tmp_path / f"run{i}" / "log.csv") for i in range(3)]


def test_a_used_model_leaves_the_next_build_untouched(tmp_path):
    cfg = _config(tmp_path)
    first, callbacks = _built(cfg, tmp_path)
    first.optimizer.iterations = 7  # as if it had trained
    callbacks[0].wait = 5
    second, again = _built(cfg, tmp_path)
    assert second.optimizer.iterations == 0 and second.optimizer.learning_rate == pytest.approx(0.1)
    assert again[0].wait == 0


def test_a_shape_error_is_located_at_the_layer_it_carries(tmp_path):
    cfg = _config(tmp_path, FUNCTIONAL)
    with pytest.raises(ShapeError) as info:
        build_model(cfg)
    assert info.value.path == ("model", "layers", 2) and info.value.located
    assert str(info.value).startswith(f"{cfg.path}:8:7  model.layers.2: layer `join` (Concatenate) cannot take")


@pytest.mark.parametrize("layer,where", [("join", ":8:7  model.layers.2: "), ("x", ":4:15  model.inputs.x: "),
                                         ("out", ":9:7  model.layers.3: "), (None, ":4:3  model: ")])
def test_an_engine_error_is_located_by_the_layer_it_names_as_data(tmp_path, monkeypatch, layer, where):
    from nntrain.engine import model as engine_model

    decoy = "layer `a` reads `b`"  # the message names other layers than the one the error is about

    def refuse(*args, **kwargs):
        raise ConfigError(decoy, layer=layer)

    monkeypatch.setattr(engine_model, "Model", refuse)
    cfg = _config(tmp_path, FUNCTIONAL)
    with pytest.raises(ConfigError) as info:
        build_model(cfg)
    assert str(info.value) == f"{cfg.path}{where}{decoy}"


def test_locating_keeps_the_error_type_and_happens_once(tmp_path):
    cfg = _config(tmp_path)
    located = cfg.locate(DataError("data.dataset: no such file", path=("data", "dataset")))
    assert type(located) is DataError and located.located and located.path == ("data", "dataset")
    assert str(located) == f"{cfg.path}:2:17  data.dataset: no such file"
    assert cfg.locate(located, ("model",)) is located


def test_load_errors_carry_their_key_path(tmp_path):
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, CONFIG.replace("units: 8", "units: -8"))
    assert info.value.path == ("model", "layers", 0, "Dense") and info.value.located
