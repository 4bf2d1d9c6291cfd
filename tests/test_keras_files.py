"""Keras model files without Keras: the files in tests/fixtures/keras/ were written by real Keras 3 (make_fixtures.py
there), with Keras's own predictions. nntrain must read them to the same predictions, write files laid out exactly
as Keras lays out the same model, and turn them into configs that train (`import`, `fit --weights`)."""

from __future__ import annotations

import io
import re
import json
import zipfile

import h5py
import numpy as np
import pytest
import yaml

from nntrain.interop.keras_read import engine_model, model_section, read_keras
from nntrain.interop.keras_write import keras_order, write_h5, write_keras
from tests.helpers import ROOT, invoke

FIXTURES = ROOT / "tests" / "fixtures" / "keras"
FILES = {"wide_deep": "wide_deep.keras", "text": "text.keras", "iris": "iris.h5", "convnet": "convnet.keras",
         "sequence": "sequence.keras", "shared": "shared.keras", "masked_functional": "masked_functional.keras",
         "sequence_legacy": "sequence_legacy.h5"}


def keras_case(name: str):
    """(the fixture file, the model inputs in nntrain's input order, Keras's outputs)."""
    saved = np.load(FIXTURES / f"{name}.npz")
    km = read_keras(FIXTURES / FILES[name])
    xs = [saved[i["name"]] if i["name"] in saved else saved["input"] for i in km.inputs]
    outs = [saved[k] for k in sorted(k for k in saved.files if k.startswith("out_"))]
    return FIXTURES / FILES[name], xs, outs


@pytest.mark.parametrize("name", FILES)
def test_a_keras_file_predicts_in_nntrain_what_it_predicts_in_keras(name):
    path, xs, keras_outs = keras_case(name)
    model = engine_model(read_keras(path))
    outs = model.predict_on_batch(xs)
    assert len(outs) == len(keras_outs)
    for ours, theirs in zip(outs, keras_outs):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def _zip(path):
    with zipfile.ZipFile(path) as z:
        names = sorted(z.namelist())
        config = json.loads(z.read("config.json"))
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            arrays = {}
            f.visititems(lambda k, o: arrays.__setitem__(k, o[()]) if isinstance(o, h5py.Dataset) else None)
            groups = []
            f.visit(groups.append)
    return names, config, arrays, sorted(groups)


def _layers(config: dict) -> list[tuple]:
    """(class, name, what it reads) of each layer, in file order, as Keras wrote them. Not the `ids != 0` op and
    `mask` arguments Keras writes for an Embedding's mask: nntrain leaves them out, Keras derives them on loading."""
    def reads(entry):
        text = json.dumps([n.get("args") if isinstance(n, dict) else n for n in entry.get("inbound_nodes", [])])
        return [h[0] for h in (json.loads(m) for m in re.findall(r'"keras_history": (\[[^]]*\])', text))]
    return [(e["class_name"], e["config"]["name"], reads(e)) for e in config["config"]["layers"]
            if e["class_name"] != "NotEqual"]


@pytest.mark.parametrize("name", ["wide_deep", "text", "convnet", "sequence", "shared", "masked_functional"])
def test_an_exported_file_is_laid_out_as_keras_lays_out_the_same_model(name, tmp_path):
    path, _, _ = keras_case(name)
    model = engine_model(read_keras(path))
    write_keras(tmp_path / "ours.keras", model, {"nntrain_version": "test"})
    names, config, arrays, groups = _zip(tmp_path / "ours.keras")
    k_names, k_config, k_arrays, k_groups = _zip(path)
    assert names == k_names and config["class_name"] == k_config["class_name"]
    assert _layers(config) == _layers(k_config)
    for key in ("input_layers", "output_layers"):
        assert config["config"].get(key) == k_config["config"].get(key)
    assert groups == k_groups  # layers/<class>[_i]/vars/<j>: Keras finds weights by these paths alone
    assert arrays.keys() == k_arrays.keys()
    for key, value in k_arrays.items():
        np.testing.assert_array_equal(arrays[key], value, err_msg=key)


def _legacy(path):
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        group = f["model_weights"]
        weights = {n: [(w, group[n][w].shape) for w in group[n].attrs["weight_names"]]
                   for n in group.attrs["layer_names"]}
        return sorted(f.attrs), config, weights, list(group.attrs["layer_names"])


@pytest.mark.parametrize("name", ["iris", "sequence_legacy"])
def test_an_exported_legacy_h5_is_laid_out_as_keras_writes_it(name, tmp_path):
    """Keras 3 loads a legacy .h5 by layer order: layer_names, then each group's weight_names in Keras's order, named
    by Keras's variable paths (a recurrent layer's in its cell, a Bidirectional's in its two wrapped layers)."""
    path, xs, keras_outs = keras_case(name)
    write_h5(tmp_path / "ours.h5", engine_model(read_keras(path)), {"nntrain_version": "test"})
    attrs, config, weights, names = _legacy(tmp_path / "ours.h5")
    k_attrs, k_config, k_weights, k_names = _legacy(path)
    assert set(k_attrs) <= set(attrs) and config["class_name"] == k_config["class_name"] == "Sequential"
    assert _layers(config) == _layers(k_config) and names == k_names and weights == k_weights
    if name == "sequence_legacy":
        assert weights["bi"][3][0] == "sequence/bi/backward_lstm/lstm_cell/kernel"
    # the file reads back to Keras's predictions
    (ours,) = engine_model(read_keras(tmp_path / "ours.h5")).predict_on_batch(xs)
    np.testing.assert_allclose(ours, keras_outs[0], atol=1e-5)


def test_keras_order_is_the_order_keras_derives_from_the_graph():
    # deep -> hidden1 -> drop; concat reads wide and drop; main reads concat, aux reads drop (Keras wrote: deep,
    # hidden1, wide, drop, concat, main, aux)
    inbound = {"wide": [], "deep": [], "hidden1": ["deep"], "drop": ["hidden1"], "concat": ["wide", "drop"],
               "main": ["concat"], "aux": ["drop"]}
    assert keras_order(inbound, ["main", "aux"]) == ["deep", "hidden1", "wide", "drop", "concat", "main", "aux"]


def test_import_writes_a_config_that_trains_from_the_keras_weights_with_a_frozen_layer(tmp_path):
    """The legacy .h5 iris model -> `nntrain import` -> a config on the bundled iris data -> `fit --weights`:
    the frozen layer keeps Keras's weights, the others start from them."""
    path, xs, keras_outs = keras_case("iris")
    r = invoke("import", path, "-o", tmp_path / "model.yaml")
    assert r.returncode == 0, r.stderr
    section = yaml.safe_load((tmp_path / "model.yaml").read_text())["model"]
    assert [(l["type"], l["name"]) for l in section["layers"]] == [
        ("Dense", "hidden"), ("BatchNormalization", "bn"), ("Dropout", "drop"), ("Dense", "species")]
    assert section["input_shape"] == [4] and section["layers"][0]["activation"] == "relu"
    section["layers"][0]["trainable"] = False
    config = {"name": "from_keras", "seed": 1, "data": {"dataset": "iris", "preprocessing": ["standardize"]},
              "model": section, "loss": "sparse_categorical_crossentropy", "optimizer": "adam",
              "training": {"epochs": 1, "batch_size": 32, "validation_split": 0.2}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    r = invoke("fit", "config.yaml", "--weights", path, "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "runs" / "from_keras" / "checkpoints" / "last.h5", "r") as f:
        kernel, out_kernel = f["weights/hidden/kernel"][()], f["weights/species/kernel"][()]
    keras_model = engine_model(read_keras(path))
    np.testing.assert_array_equal(kernel, keras_model.get_layer("hidden").params["kernel"])  # frozen
    start = keras_model.get_layer("species").params["kernel"]
    assert not np.array_equal(out_kernel, start) and np.abs(out_kernel - start).max() < 0.1  # trained from Keras's


def test_keras_weights_of_another_shape_are_a_clear_error(tmp_path):
    path, _, _ = keras_case("iris")
    section = model_section(read_keras(path))
    section["layers"][0]["units"] = 9
    config = {"name": "bad", "data": {"dataset": "iris"}, "model": section,
              "loss": "sparse_categorical_crossentropy", "optimizer": "adam", "training": {"epochs": 1}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    r = invoke("fit", "config.yaml", "--weights", path, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "layer `hidden` weight `kernel` has shape (4, 8), this model's has (4, 9)" in r.stderr
    assert not (tmp_path / "runs" / "bad").exists()


def _changed(name: str, path, change) -> None:
    """A copy of the fixture NAME at `path`, its config.json's layer list changed by `change(layers)`."""
    with zipfile.ZipFile(FIXTURES / FILES[name]) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    config = json.loads(parts["config.json"])
    change(config["config"]["layers"])
    parts["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)


def test_import_refuses_what_nntrain_has_not_naming_the_layer(tmp_path):
    _changed("text", tmp_path / "conv.keras", lambda layers: layers[3].update(class_name="Conv3D"))  # `steps`
    r = invoke("import", tmp_path / "conv.keras", "-o", tmp_path / "c.yaml")
    assert r.returncode == 2 and "Traceback" not in r.stderr and not (tmp_path / "c.yaml").exists()
    assert "layer `steps` (Conv3D): nntrain has no such layer; it reads Dense, " in r.stderr
    r = invoke("import", tmp_path / "nothing.keras")
    assert r.returncode == 2 and "no such Keras model file" in r.stderr
    (tmp_path / "cut.keras").write_bytes((FIXTURES / "text.keras").read_bytes()[:3000])
    r = invoke("import", tmp_path / "cut.keras")
    assert r.returncode == 2 and "not a readable Keras model file (BadZipFile" in r.stderr
    r = invoke("import", FIXTURES / "text.keras")  # no -o: the config on stdout
    assert r.returncode == 0 and yaml.safe_load(r.stdout)["model"]["layers"][0] == {
        "type": "Input", "shape": [8], "dtype": "int32", "name": "tokens"}


@pytest.mark.parametrize("name, layer, key, value, message", [
    ("sequence", 4, "reset_after", False, "layer `gru` (GRU): GRU(reset_after=False) is not supported"),
    ("sequence", 2, "recurrent_dropout", 0.2, "layer `rnn` (SimpleRNN): SimpleRNN(recurrent_dropout=0.2)"),
    ("convnet", 2, "groups", 2, "layer `conv` (Conv2D): Keras argument groups=2 has no nntrain equivalent"),
    ("convnet", 2, "data_format", "channels_first", "layer `conv` (Conv2D): Keras argument data_format="),
])
def test_import_refuses_keras_arguments_nntrain_has_not(tmp_path, name, layer, key, value, message):
    _changed(name, tmp_path / "changed.keras", lambda layers: layers[layer]["config"].update({key: value}))
    r = invoke("import", tmp_path / "changed.keras", "-o", tmp_path / "c.yaml")
    assert r.returncode == 2 and "Traceback" not in r.stderr and not (tmp_path / "c.yaml").exists()
    assert message in r.stderr


def test_a_legacy_h5_in_the_form_keras_2_wrote_it(tmp_path):
    """tf.keras 2.x: `batch_input_shape`, inbound nodes as [[name, 0, 0, {}]], weights named `layer/kernel:0`. (Hand
    written from that format: no Keras 2 here to write it.)"""
    config = {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "x"},
         "name": "x", "inbound_nodes": []},
        {"class_name": "Dense", "config": {"name": "h", "trainable": True, "units": 2, "activation": "tanh",
                                           "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform",
                                                                                    "config": {"seed": None}},
                                           "bias_initializer": {"class_name": "Zeros", "config": {}},
                                           "kernel_regularizer": None, "kernel_constraint": None},
         "name": "h", "inbound_nodes": [[["x", 0, 0, {}]]]}],
        "input_layers": [["x", 0, 0]], "output_layers": [["h", 0, 0]]}}
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)
    with h5py.File(tmp_path / "k2.h5", "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.15.0"
        g = f.create_group("model_weights/h")
        g.attrs["weight_names"] = [b"h/kernel:0", b"h/bias:0"]
        g["h/kernel:0"], g["h/bias:0"] = kernel, bias
    x = rng.normal(size=(4, 3)).astype(np.float32)
    (out,) = engine_model(read_keras(tmp_path / "k2.h5")).predict_on_batch([x])
    np.testing.assert_allclose(out, np.tanh(x @ kernel + bias), atol=1e-6)
