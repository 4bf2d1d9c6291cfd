"""Checkpoint format version 1 as docs/checkpoint-format.md describes it: a file written by hand with h5py, as an
earlier nntrain wrote it, still loads into the same model, state and preprocessing; newer and foreign files are
refused with a message that says why."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from nntrain.errors import CheckpointError
from nntrain.runs.checkpoint import load, model_from_checkpoint

# Model.get_config() of Sequential([Dense(3, activation="softmax", name="out")], input_shape=(4,)), frozen here so
# that a change of the config format shows as a failure to read an older file.
MODEL_CONFIG = {
    "name": "sequential",
    "inputs": [{"shape": [4], "name": "input", "sparse": False, "dtype": "float32"}],
    "layers": [{"class_name": "Dense", "inbound": ["input"], "config": {
        "units": 3, "activation": {"name": "softmax", "axis": -1}, "use_bias": True,
        "kernel_initializer": {"name": "glorot_uniform", "seed": None}, "bias_initializer": "zeros",
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None, "name": "out",
        "trainable": True}}],
    "outputs": ["out"],
}


def _tree(group, json_text: str, arrays: list[np.ndarray]) -> None:
    group.attrs["json"] = json_text
    for i, a in enumerate(arrays):
        if a.dtype.kind == "U":
            group.create_dataset(str(i), data=a.astype("S"))
            group[str(i)].attrs["str"] = True
        else:
            group.create_dataset(str(i), data=a)


def _write_version_1(path, kernel: np.ndarray, bias: np.ndarray, version: int = 1) -> None:
    with h5py.File(path, "w") as f:
        f.attrs.update({"format": "nntrain-checkpoint", "format_version": version, "nntrain_version": "0.1.0",
                        "created": "2024-05-01T14:03:09+0200", "dtype": "float32",
                        "model_config": json.dumps(MODEL_CONFIG),
                        "run_config": json.dumps({"name": "old", "seed": 7})})
        f.create_dataset("weights/out/kernel", data=kernel)
        f.create_dataset("weights/out/bias", data=bias)
        opt = f.create_group("optimizer")
        opt.attrs["config"] = json.dumps({"name": "adam", "learning_rate": 0.01})
        opt.create_dataset("state/iterations", data=np.int64(12))
        opt.create_dataset("state/out/kernel/momentum", data=np.full((4, 3), 0.5, np.float32))
        _tree(f.create_group("training"),
              json.dumps({"epoch": 3, "history": {"epoch": [1, 2, 3], "history": {"loss": {"__array__": 0}}},
                          "callbacks": {"EarlyStopping": {"best": {"__float__": "inf"}, "wait": 1}}}),
              [np.array([0.9, 0.7, 0.6])])
        _tree(f.create_group("preprocessing"), json.dumps({"outputs": {"y": {"classes": {"__array__": 0}}}}),
              [np.array(["a", "b", "c"])])


def test_a_version_1_file_loads_into_the_same_model_and_state(tmp_path):
    rng = np.random.default_rng(0)
    kernel, bias = rng.standard_normal((4, 3)).astype(np.float32), np.array([0.1, 0.0, -0.1], np.float32)
    _write_version_1(tmp_path / "old.h5", kernel, bias)

    ckpt = load(tmp_path / "old.h5")
    assert ckpt.epoch == 3 and ckpt.dtype == "float32" and ckpt.run_config == {"name": "old", "seed": 7}
    assert ckpt.meta["nntrain_version"] == "0.1.0" and ckpt.meta["format_version"] == 1
    assert ckpt.optimizer_config == {"name": "adam", "learning_rate": 0.01}
    assert int(ckpt.optimizer_state["iterations"]) == 12
    np.testing.assert_array_equal(ckpt.optimizer_state["out/kernel/momentum"], np.full((4, 3), 0.5))
    np.testing.assert_array_equal(ckpt.training_state["history"]["history"]["loss"], [0.9, 0.7, 0.6])
    assert ckpt.training_state["callbacks"]["EarlyStopping"] == {"best": float("inf"), "wait": 1}
    assert ckpt.preprocessing["outputs"]["y"]["classes"].tolist() == ["a", "b", "c"]

    x = rng.standard_normal((5, 4)).astype(np.float32)
    (probs,) = model_from_checkpoint(ckpt).predict_on_batch([x])
    z = x.astype(np.float64) @ kernel + bias
    np.testing.assert_allclose(probs, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), rtol=1e-5)


def test_newer_and_foreign_files_are_refused(tmp_path):
    zeros = np.zeros((4, 3), np.float32), np.zeros(3, np.float32)
    _write_version_1(tmp_path / "new.h5", *zeros, version=2)
    with pytest.raises(CheckpointError, match="format version 2 is newer than this nntrain"):
        load(tmp_path / "new.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("x", data=np.ones(3))
    with pytest.raises(CheckpointError, match="not an nntrain checkpoint"):
        load(tmp_path / "other.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(CheckpointError, match="not a readable HDF5 checkpoint"):
        load(tmp_path / "text.h5")
