"""Recurrent layers (SimpleRNN, LSTM, GRU, Bidirectional) and masks: Keras's parameter counts and output shapes,
forward values against a plain per-example, per-step loop written here, gradients by central differences (float64)
with masks, go_backwards, return_sequences and every merge mode, and padding that changes nothing a user sees."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nntrain.engine.layers import (GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, GlobalAveragePooling1D, Input,
                                   SimpleRNN)
from nntrain.engine.model import Sequential
from nntrain.errors import ConfigError
from tests.helpers import ROOT, invoke
from tests.test_data_catalogue import served  # noqa: F401  (the fixture: a small imdb.npz behind a local server)

# the table-driven checks of every registered layer (tests/test_gradients.py, tests/test_layers.py) take these
RECURRENT_GRADIENT_CASES = {
    "SimpleRNN": [lambda: SimpleRNN(3, bias_initializer="random_normal")],
    "LSTM": [lambda: LSTM(3, bias_initializer="random_normal", return_sequences=True)],
    "GRU": [lambda: GRU(3, bias_initializer="random_normal", go_backwards=True)],
    "Bidirectional": [lambda: Bidirectional({"type": "GRU", "units": 2, "bias_initializer": "random_normal"})],
}
RECURRENT_CONFIG_CASES = {
    "SimpleRNN": [lambda: SimpleRNN(4, activation="relu", return_sequences=True, name="rnn")],
    "LSTM": [lambda: LSTM(5), lambda: LSTM(3, unit_forget_bias=False, go_backwards=True, kernel_regularizer="l2",
                                           dropout=0.25, recurrent_initializer="glorot_uniform", name="enc",
                                           trainable=False)],
    "GRU": [lambda: GRU(6, recurrent_activation="hard_sigmoid", use_bias=False)],
    "Bidirectional": [lambda: Bidirectional({"LSTM": {"units": 3}}, merge_mode="sum"),
                      lambda: Bidirectional({"type": "GRU", "units": 2, "return_sequences": True},
                                            backward_layer={"type": "SimpleRNN", "units": 2, "go_backwards": True,
                                                            "return_sequences": True})],
}

MASK = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1]], bool)  # pre-padded, as pad_sequences makes them


def _built(layer, steps=5, features=2, seed=0):
    layer.build((steps, features), np.random.default_rng(seed), np.float64)
    return layer


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _reference(layer, x, mask=None, zero_output=False):
    """The layer's output computed one example and one step at a time, from Keras's equations."""
    p, u = layer.params, layer.units
    kind = type(layer).__name__
    outs = []
    for n in range(len(x)):
        h, c, seq = np.zeros(u), np.zeros(u), []
        order = range(x.shape[1] - 1, -1, -1) if layer.go_backwards else range(x.shape[1])
        for t in order:
            xt = x[n, t]
            if kind == "SimpleRNN":
                hn, cn = np.tanh(xt @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]), c
            elif kind == "LSTM":
                z = xt @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]
                i, f, g, o = _sig(z[:u]), _sig(z[u:2 * u]), np.tanh(z[2 * u:3 * u]), _sig(z[3 * u:])
                cn = f * c + i * g
                hn = o * np.tanh(cn)
            else:
                xz, hz = xt @ p["kernel"] + p["bias"][0], h @ p["recurrent_kernel"] + p["bias"][1]
                zg, r = _sig(xz[:u] + hz[:u]), _sig(xz[u:2 * u] + hz[u:2 * u])
                hh = np.tanh(xz[2 * u:] + r * hz[2 * u:])
                hn, cn = zg * h + (1 - zg) * hh, c
            real = mask is None or mask[n, t]
            if real:
                h, c = hn, cn
            seq.append(h if real or not zero_output else np.zeros(u))
        outs.append(np.array(seq) if layer.return_sequences else h)
    return np.array(outs)


# --- Keras's numbers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer,params", [
    (SimpleRNN(32), 32 * 32 + 32 * 32 + 32),  # kernel, recurrent kernel, bias: Keras's summary shows 2,080
    (LSTM(32), 4 * (32 * 32 + 32 * 32 + 32)),  # four gates: 8,320
    (GRU(32), 3 * (32 * 32 + 32 * 32 + 2 * 32)),  # three gates, two bias rows (reset_after): 6,336
    (Bidirectional({"type": "LSTM", "units": 32}), 2 * 8320),
])
def test_parameter_counts_match_keras(layer, params):
    assert params in (2080, 8320, 6336, 16640)
    assert _built(layer, 10, 32).count_params() == params


def test_output_shapes_and_initial_weights():
    assert _built(LSTM(4, return_sequences=True)).output_shape == (5, 4)
    assert _built(Bidirectional({"type": "GRU", "units": 4, "return_sequences": True})).output_shape == (5, 8)
    assert _built(Bidirectional({"type": "GRU", "units": 4}, merge_mode="ave")).output_shape == (4,)
    lstm = _built(LSTM(4), features=3)
    np.testing.assert_array_equal(lstm.params["bias"], np.repeat([0.0, 1.0, 0.0, 0.0], 4))  # unit_forget_bias
    rec = lstm.params["recurrent_kernel"]  # orthogonal (4, 16): orthonormal rows
    np.testing.assert_allclose(rec @ rec.T, np.eye(4), atol=1e-12)
    assert _built(GRU(4)).params["bias"].shape == (2, 12)


# --- forward values against the per-step loop ---------------------------------------------------------------------

VARIANTS = [{}, {"return_sequences": True}, {"go_backwards": True}, {"go_backwards": True, "return_sequences": True}]


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("masked", [False, True])
def test_forward_matches_the_step_by_step_loop(cls, variant, masked):
    layer = _built(cls(3, bias_initializer="random_normal", **variant))
    x = np.random.default_rng(1).standard_normal((3, 5, 2))
    y, _ = layer.forward_masked(x, False, MASK) if masked else layer.forward(x, False)
    np.testing.assert_allclose(y, _reference(layer, x, MASK if masked else None), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("sequences", [False, True])
def test_bidirectional_forward_by_hand(mode, sequences):
    layer = _built(Bidirectional({"type": "LSTM", "units": 3, "bias_initializer": "random_normal",
                                  "return_sequences": sequences}, merge_mode=mode))
    x = np.random.default_rng(2).standard_normal((3, 5, 2))
    y, _ = layer.forward_masked(x, False, MASK)
    f = _reference(layer.forward_layer, x, MASK, zero_output=True)
    b = _reference(layer.backward_layer, x, MASK, zero_output=True)
    if sequences:
        b = b[:, ::-1]  # back into step order
        assert not y[0, :2].any()  # Keras's Bidirectional gives zeros at masked steps of a sequence
    expected = {"concat": lambda: np.concatenate([f, b], -1), "sum": lambda: f + b, "mul": lambda: f * b,
                "ave": lambda: (f + b) / 2}[mode]()
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-14)


# --- gradients by central differences -----------------------------------------------------------------------------

GRADIENT_CASES = [
    *[(lambda cls=cls, v=v: cls(3, bias_initializer="random_normal", **v), masked)
      for cls in (SimpleRNN, LSTM, GRU) for v in VARIANTS for masked in (False, True)],
    *[(lambda mode=mode, seq=seq: Bidirectional({"type": "LSTM", "units": 2, "bias_initializer": "random_normal",
                                                 "return_sequences": seq}, merge_mode=mode), True)
      for mode in ("concat", "sum", "mul", "ave") for seq in (False, True)],
    (lambda: LSTM(3, activation="relu", recurrent_activation="hard_sigmoid", bias_initializer="random_normal",
                  kernel_regularizer="l2"), True),
]


@pytest.mark.parametrize("make,masked", GRADIENT_CASES)
def test_gradients_with_masks_and_directions(make, masked, assert_grad):
    layer = _built(make(), features=3)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 5, 3))
    mask = MASK if masked else None

    def forward():
        return layer.forward_masked(x, True, mask) if masked else layer.forward(x, True)

    y, backward = forward()
    r = rng.standard_normal(y.shape)
    dx = backward(r)
    layer.add_penalty_grads()

    def loss():
        return float((r * forward()[0]).sum()) + layer.penalty()

    for key, p in layer.params.items():
        assert_grad(loss, p, layer.grads[key], f"{layer!r} d/d{key}")
    assert_grad(loss, x, dx, f"{layer!r} d/dx")


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_input_dropout_is_one_mask_for_every_step(cls, assert_grad):
    layer = _built(cls(3, dropout=0.4, bias_initializer="random_normal"), features=4)
    x = np.random.default_rng(6).standard_normal((3, 5, 4))

    def forward(training=True):
        layer.rng = np.random.default_rng(5)  # the same mask on every pass
        return layer.forward_masked(x, training, MASK)

    y, backward = forward()
    keep = np.random.default_rng(5).random((3, 4), dtype=np.float32) < 0.6
    assert 0 < keep.sum() < keep.size
    np.testing.assert_allclose(y, _reference(layer, x * keep[:, None, :] / 0.6, MASK), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(forward(training=False)[0], _reference(layer, x, MASK), rtol=1e-12, atol=1e-14)
    r = np.random.default_rng(7).standard_normal(y.shape)
    dx = backward(r)

    def loss():
        return float((r * forward()[0]).sum())

    for key, p in layer.params.items():
        assert_grad(loss, p, layer.grads[key], f"{cls.__name__} d/d{key}")
    assert_grad(loss, x, dx, f"{cls.__name__} d/dx")
    assert not dx[~np.broadcast_to(keep[:, None, :], x.shape)].any()  # dropped features get no gradient


# --- masks through a model ---------------------------------------------------------------------------------------


def _model(*layers, steps=6):
    return Sequential([Input([steps], dtype="int64"), Embedding(20, 3, mask_zero=True), *layers], dtype="float64",
                      seed=1)


@pytest.mark.parametrize("layers", [
    lambda: [LSTM(4)],
    lambda: [Dropout(0.3), GRU(4, return_sequences=True), SimpleRNN(2)],
    lambda: [Bidirectional({"type": "LSTM", "units": 3})],
    lambda: [Dense(5, activation="relu"), LSTM(3, return_sequences=True), GlobalAveragePooling1D()],
])
def test_padding_changes_nothing(layers):
    # a review of 3 tokens, padded in front to 6 (Keras's pad_sequences 'pre'), and 4 tokens that fill all 6
    padded, full = _model(*layers()), _model(*layers(), steps=3)
    full.set_weights(padded.get_weights())
    ids = np.array([[0, 0, 0, 5, 3, 7], [0, 0, 0, 19, 1, 1]])
    (a,), _ = padded.forward([ids], training=False)
    (b,), _ = full.forward([ids[:, 3:]], training=False)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    unmasked = Sequential([Input([6], dtype="int64"), Embedding(20, 3), *layers()], dtype="float64", seed=1)
    unmasked.set_weights(padded.get_weights())
    assert not np.allclose(unmasked.forward([ids], training=False)[0][0], a)  # the mask is what did it


def test_masked_average_by_hand_and_gradient(assert_grad):
    model = _model(GlobalAveragePooling1D(), steps=4)
    ids = np.array([[0, 0, 2, 4], [1, 2, 3, 4], [0, 0, 0, 0]])
    table = model.get_layer("embedding").params["embeddings"]
    (y,), backs = model.forward([ids], training=True)
    np.testing.assert_allclose(y[0], (table[2] + table[4]) / 2)
    np.testing.assert_allclose(y[1], table[1:5].mean(axis=0))
    assert not y[2].any()  # nothing to average: zeros (Keras would divide 0 by 0)
    r = np.random.default_rng(0).standard_normal(y.shape)
    model.backward(backs, [r])
    grad = model.trainable_grads["embedding/embeddings"].copy()
    assert not grad[0].any()  # padding learns nothing
    assert_grad(lambda: float((r * model.forward([ids], training=True)[0][0]).sum()), table, grad, "embeddings")


# --- what is refused ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make,words", [
    (lambda: LSTM(4, dropout=1.0), ["LSTM(dropout=...) expects a number in [0, 1)"]),
    (lambda: GRU(4, recurrent_dropout=0.1), ["GRU(recurrent_dropout=0.1) is not supported", "use `dropout`"]),
    (lambda: SimpleRNN(4, return_state=True), ["return_state=True", "one tensor"]),
    (lambda: GRU(4, reset_after=False), ["reset_after=False", "reset_after=true"]),
    (lambda: Bidirectional({"type": "Dense", "units": 3}), ["wraps a recurrent layer", "Dense"]),
    (lambda: Bidirectional({"LSTM": {"units": 3, "return_sequence": True}}),
     ["LSTM has no argument `return_sequence`", "did you mean `return_sequences`"]),
    (lambda: Bidirectional({"type": "LSTM", "units": 3}, merge_mode=None), ["merge_mode", "concat"]),
    (lambda: Embedding(10, 2, mask_zero="yes"), ["mask_zero"]),
])
def test_refused_arguments_say_why(make, words):
    with pytest.raises(ConfigError) as exc:
        make()
    for w in words:
        assert w in str(exc.value)


def test_shape_errors_name_the_layer():
    with pytest.raises(Exception, match=r"`enc` \(LSTM\) cannot take input of shape \(None, 5\): expected sequences"):
        LSTM(3, name="enc").build((5,), np.random.default_rng(0))


# --- configs/imdb_lstm.yaml end to end, on a small imdb.npz served locally ------------------------------------------


def test_imdb_lstm_config_resumes_exactly_and_predicts_padded_rows(served, tmp_path):
    from nntrain.runs import checkpoint

    config = ROOT / "configs" / "imdb_lstm.yaml"
    common = ("--set", "data.preprocessing=[{pad_sequences: {maxlen: 12}}]", "--set", "model.layers.1.LSTM.dropout=0.3",
              "-q")
    for name, epochs in (("full", 3), ("cut", 2)):
        fit = invoke("fit", config, "--set", f"name={name}", "--set", f"training.epochs={epochs}", *common,
                     cwd=tmp_path)
        assert fit.returncode == 0, fit.stderr
    resumed = invoke("fit", "--resume", "runs/cut", "--set", "training.epochs=3", "-q", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    full, cut = (checkpoint.load(tmp_path / "runs" / n / "checkpoints" / "last.h5").weights for n in ("full", "cut"))
    for layer in full:  # dropout's masks and the shuffles continue where they stopped
        for key in full[layer]:
            assert np.array_equal(full[layer][key], cut[layer][key]), (layer, key)

    run = tmp_path / "runs" / "full"
    assert re.search(r"lstm \(LSTM\) +\(None, 32\) +8,320", (run / "summary.txt").read_text())
    rng = np.random.default_rng(3)
    short = rng.integers(1, 40, (4, 5))
    np.save(tmp_path / "short.npy", short)
    np.save(tmp_path / "padded.npy", np.pad(short, ((0, 0), (7, 0))))  # zeros in front: padding the mask hides
    np.save(tmp_path / "long.npy", np.concatenate([rng.integers(1, 40, (4, 30)), short], axis=1))  # cut to 12
    out = {}
    for name in ("short", "padded", "long"):
        r = invoke("predict", run, tmp_path / f"{name}.npy", "-o", tmp_path / f"{name}_p.npy", "--proba",
                   cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        out[name] = np.load(tmp_path / f"{name}_p.npy", allow_pickle=False)
    np.testing.assert_array_equal(out["short"], out["padded"])  # the stored step pads to 12 in front
    assert not np.array_equal(out["short"], out["long"])  # the last 12 ids of a long row include 7 others
