"""Shared layers (Keras's layer sharing): one layer applied to several inputs of a functional model, its gradient
the sum over every use, its weights counted, stored and loaded once, and a config's `reuse:` entry checked."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from nntrain.engine.layers import Concatenate, Dense, Input
from nntrain.engine.model import Model, Node
from tests.hardening import assert_user_error
from tests.helpers import invoke

SGD0 = {"name": "sgd", "learning_rate": 0.0}


def _siamese(dtype="float64", **dense):
    enc = Dense(3, activation="tanh", bias_initializer="random_normal", name="enc", **dense)
    nodes = [Node(enc, ["a"]), Node(enc, ["b"], "enc_b"), Node(Concatenate(name="join"), ["enc", "enc_b"]),
             Node(Dense(2, name="out"), ["join"])]
    return Model([Input([4], name="a"), Input([4], name="b")], nodes, ["out"], dtype=dtype, seed=3)


def test_shared_gradient_is_the_sum_of_both_uses(assert_grad):
    model = _siamese()
    rng = np.random.default_rng(0)
    xa, xb, r = rng.standard_normal((5, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    outs, backs = model.forward([xa, xb], training=True)
    model.backward(backs, [r])
    grads = {k: g.copy() for k, g in model.trainable_grads.items()}

    def loss():
        return float((r * model.forward([xa, xb], training=True)[0][0]).sum())

    for key, p in model.trainable_params.items():
        assert_grad(loss, p, grads[key], key)
    # each use alone: the shared kernel's gradient is their sum, and neither use's share is zero
    w = model.get_layer("out").params["kernel"]
    ya, yb = (np.tanh(x @ model.get_layer("enc").params["kernel"] + model.get_layer("enc").params["bias"])
              for x in (xa, xb))
    dza, dzb = (r @ w[:3].T) * (1 - ya ** 2), (r @ w[3:].T) * (1 - yb ** 2)
    np.testing.assert_allclose(grads["enc/kernel"], xa.T @ dza + xb.T @ dzb, rtol=1e-10)
    assert np.abs(xa.T @ dza).min() > 0 and np.abs(xb.T @ dzb).min() > 0
    # a second step writes afresh: the sum does not carry over from the step before
    model.backward(model.forward([xa, xb], training=True)[1], [r])
    np.testing.assert_allclose(model.trainable_grads["enc/kernel"], grads["enc/kernel"], rtol=1e-12)


def test_shared_layer_counts_once_and_trains_with_every_optimizer_path():
    model = _siamese("float32")
    assert model.count_params() == (4 * 3 + 3 + 6 * 2 + 2, 0)
    assert list(model.trainable_params) == ["enc/kernel", "enc/bias", "out/kernel", "out/bias"]
    assert "enc_b (Dense, shares enc)" in model.summary()
    # one plain-SGD step (whose unshared kernels take the fused gemm path) moves the shared kernel by the summed
    # gradient: the gradient read back from a learning-rate-0 step of the same model
    rng = np.random.default_rng(1)
    xs, ys = [rng.standard_normal((16, 4)) for _ in range(2)], [rng.standard_normal((16, 2))]
    probe, model = _siamese(), _siamese()
    probe.compile(loss="mse", optimizer=SGD0)
    probe.train_on_batch(xs, ys, None, probe.new_tracker())
    model.compile(loss="mse", optimizer={"name": "sgd", "learning_rate": 0.1})
    before = {k: v.copy() for k, v in model.trainable_params.items()}
    model.train_on_batch(xs, ys, None, model.new_tracker())
    for key, p in model.trainable_params.items():
        np.testing.assert_allclose(p, before[key] - 0.1 * probe.trainable_grads[key], rtol=1e-12, atol=1e-15)
    assert np.abs(probe.trainable_grads["enc/kernel"]).min() > 0


def test_reuse_with_another_input_shape_is_refused():
    enc = Dense(3, name="enc")
    with pytest.raises(Exception, match=r"reuses `enc` \(Dense\), whose weights were built for input \(None, 4\)"):
        Model([Input([4], name="a"), Input([5], name="b")],
              [Node(enc, ["a"]), Node(enc, ["b"], "enc_b"), Node(Concatenate(name="j"), ["enc", "enc_b"])], ["j"])


def test_a_shared_layer_with_an_activity_penalty_is_refused():
    enc = Dense(3, activity_regularizer="l2", name="enc")
    with pytest.raises(Exception, match=r"`enc_b` reuses `enc`, which has an activity_regularizer"):
        Model([Input([4], name="a"), Input([4], name="b")],
              [Node(enc, ["a"]), Node(enc, ["b"], "enc_b"), Node(Concatenate(name="j"), ["enc", "enc_b"])], ["j"])


SIAMESE = """\
seed: 4
data:
  dataset: iris
  inputs: {{left: [0, 1], right: [2, 3]}}
model:
  inputs: {{left: null, right: null}}
  layers:
    - {{name: encoder, type: Dense, units: 6, activation: tanh, inputs: left}}
    - {{reuse: {target}, inputs: right}}
    - {{name: join, type: Concatenate, inputs: [encoder, encoder_use2]}}
    - {{name: species, type: Dense, units: 3, activation: softmax, inputs: join}}
  outputs: [species]
loss: sparse_categorical_crossentropy
metrics: [accuracy]
optimizer: {{name: adam, learning_rate: 0.05}}
training: {{epochs: 30, batch_size: 16, validation_split: 0.2}}
"""


def test_siamese_config_fits_stores_once_and_evaluates(tmp_path):
    (tmp_path / "siamese.yaml").write_text(SIAMESE.format(target="encoder"))
    fit = invoke("fit", "siamese.yaml", "--json", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    run = tmp_path / "runs" / "siamese"
    assert "encoder_use2 (Dense, shares encoder)" in (run / "summary.txt").read_text()
    with h5py.File(run / "checkpoints" / "best.h5") as f:
        stored = set()
        f.visit(lambda name: stored.add(name) if isinstance(f[name], h5py.Dataset) else None)
    assert not any("encoder_use2" in name for name in stored)
    assert sum(name.endswith("encoder/kernel") for name in stored) == 1
    result = invoke("evaluate", str(run), "--split", "val", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout


@pytest.mark.parametrize("change,fragments", [
    ({"target": "encodr"}, ["model.layers.1.reuse", "`encodr` is not a layer", "encoder"]),
    ({"target": "encoder, units: 3"}, ["model.layers.1.units", "takes only reuse, inputs, name"]),
])
def test_bad_reuse_entries_are_user_errors(tmp_path, change, fragments):
    (tmp_path / "siamese.yaml").write_text(SIAMESE.format(**change))
    assert_user_error(invoke("check", "siamese.yaml", cwd=tmp_path), *fragments)


def test_reuse_reading_another_shape_names_the_entry(tmp_path):
    text = SIAMESE.format(target="encoder").replace("right: [2, 3]", "right: [1, 2, 3]")
    (tmp_path / "siamese.yaml").write_text(text)
    assert_user_error(invoke("check", "siamese.yaml", cwd=tmp_path), "siamese.yaml:9", "model.layers.1",
                      "built for input (None, 2)", "reads (None, 3) from right")


def test_shared_lstm_over_masked_sequences_sums_gradients(assert_grad):
    # a siamese text model: one Embedding and one LSTM encode two padded sequences, the codes are compared
    from nntrain.engine.layers import LSTM, Add, Embedding

    emb, enc = Embedding(9, 3, mask_zero=True, name="emb"), LSTM(2, bias_initializer="random_normal", name="enc")
    nodes = [Node(emb, ["a"]), Node(emb, ["b"], "emb_b"), Node(enc, ["emb"]), Node(enc, ["emb_b"], "enc_b"),
             Node(Add(name="sum"), ["enc", "enc_b"]), Node(Dense(1, name="out"), ["sum"])]
    model = Model([Input([4], name="a", dtype="int64"), Input([4], name="b", dtype="int64")], nodes, ["out"],
                  dtype="float64", seed=2)
    assert model.count_params() == (9 * 3 + 4 * (3 * 2 + 2 * 2 + 2) + 2 + 1, 0)
    xa, xb = np.array([[0, 3, 1, 8], [2, 2, 5, 1]]), np.array([[0, 0, 7, 4], [6, 1, 1, 3]])
    r = np.array([[0.7], [-1.3]])
    model.backward(model.forward([xa, xb], training=True)[1], [r])
    grads = {k: g.copy() for k, g in model.trainable_grads.items()}

    def loss():
        return float((r * model.forward([xa, xb], training=True)[0][0]).sum())

    for key, p in model.trainable_params.items():
        assert_grad(loss, p, grads[key], key)
    assert not grads["emb/embeddings"][0].any()  # padding id: masked in both uses
