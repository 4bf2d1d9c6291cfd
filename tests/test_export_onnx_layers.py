"""The convolutional, pooling, normalization and recurrent layers in ONNX Runtime, against the engine: small models
with every weight random (so each array's place and each gate's order shows), the network alone (no
preprocessing), each output within 1e-5 of `predict_on_batch`.

The Keras fixtures (tests/fixtures/keras: a convnet, a masked Embedding -> SimpleRNN -> Bidirectional LSTM -> GRU
model, a Dense shared by two branches) and two models built here: recurrent layers without a mask (ONNX's own RNN,
LSTM and GRU operators, go_backwards, every Bidirectional merge, a gate activation ONNX's operators lack) and the
convolution and pooling variants the fixtures leave out ('same' windows that pad unevenly, strides, dilation,
LayerNormalization over two axes).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime", reason="the round trips run in ONNX Runtime: pip install 'nntrain[onnx]'")
pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install 'nntrain[onnx]'")

from nntrain.engine import layers as L
from nntrain.engine.model import Model, Node
from nntrain.interop.keras_read import engine_model, read_keras
from nntrain.interop.onnx_export import build_onnx
from tests.test_keras_files import keras_case

TOLERANCE = 1e-5


def run_onnx(model, xs: list) -> tuple[list, list[str]]:
    """The model's ONNX graph (no preprocessing) run on xs: (outputs, the graph's operator types)."""
    run = SimpleNamespace(model=model, outputs=[], checkpoint=SimpleNamespace(epoch=0), run_dir="test",
                          checkpoint_path="test.h5", which="last")
    proto = build_onnx(run, preprocessing=False)
    session = ort.InferenceSession(proto.SerializeToString())
    return session.run(None, {i.name: x for i, x in zip(session.get_inputs(), xs)}), [n.op_type for n in
                                                                                      proto.graph.node]


def randomize(model, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    model.set_weights({name: {k: rng.normal(0, 0.5, v.shape).astype(v.dtype) for k, v in weights.items()}
                       for name, weights in model.get_weights().items()})


def assert_as_engine(model, xs: list) -> list[str]:
    got, ops = run_onnx(model, xs)
    expected = model.predict_on_batch(xs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=TOLERANCE, rtol=0)
    return ops


@pytest.mark.parametrize("name, ops", [("convnet", {"Conv", "MaxPool", "AveragePool", "LayerNormalization"}),
                                       ("sequence", {"Scan"}), ("shared", {"Conv", "MaxPool"}),
                                       ("masked_functional", {"Scan"})])
def test_the_keras_fixtures_run_in_onnx_as_in_nntrain(name, ops):
    path, xs, _ = keras_case(name)
    model = engine_model(read_keras(path))
    assert ops <= set(assert_as_engine(model, xs))


def _recurrent_model() -> Model:
    """Unmasked sequences (batch, 6, 3) through every recurrent form, four outputs."""
    seq = L.Input(shape=(6, 3), name="seq")
    nodes = [
        Node(L.SimpleRNN(4, activation="relu", return_sequences=True, name="rnn"), ["seq"]),
        Node(L.LSTM(3, go_backwards=True, return_sequences=True, name="lstm_back"), ["rnn"]),
        Node(L.GRU(2, name="gru"), ["lstm_back"]),
        Node(L.Bidirectional({"type": "LSTM", "units": 2, "return_sequences": True}, merge_mode="sum", name="bi_sum"),
             ["seq"]),
        Node(L.Bidirectional({"type": "GRU", "units": 2}, merge_mode="ave", name="bi_ave"), ["bi_sum"]),
        Node(L.Bidirectional({"type": "SimpleRNN", "units": 2, "return_sequences": True}, merge_mode="mul",
                             name="bi_mul"), ["seq"]),
        Node(L.LSTM(2, recurrent_activation="hard_sigmoid", go_backwards=True, name="hard"), ["bi_mul"]),
        Node(L.GRU(3, go_backwards=True, return_sequences=True, name="gru_back"), ["seq"]),
    ]
    return Model([seq], nodes, ["gru", "bi_ave", "hard", "gru_back"], name="recurrent")


def test_recurrent_layers_without_a_mask_are_onnx_operators():
    model = _recurrent_model()
    randomize(model)
    x = np.random.default_rng(1).normal(size=(5, 6, 3)).astype(np.float32)
    ops = assert_as_engine(model, [x])
    assert {"RNN", "LSTM", "GRU"} <= set(ops)
    assert ops.count("Scan") == 1  # hard_sigmoid gates: the engine's step in a Scan


def test_a_bidirectional_layer_over_a_mask_gives_zeros_at_padding_as_the_engine():
    ids = L.Input(shape=(5,), dtype="int32", name="ids")
    nodes = [Node(L.Embedding(9, 3, mask_zero=True, name="emb"), ["ids"]),
             Node(L.Bidirectional({"type": "GRU", "units": 2, "return_sequences": True}, name="bi"), ["emb"]),
             Node(L.GlobalAveragePooling1D(name="mean"), ["bi"]),
             Node(L.Bidirectional({"type": "SimpleRNN", "units": 2, "return_sequences": True}, name="seq_out"),
                  ["emb"])]
    model = Model([ids], nodes, ["mean", "seq_out"], name="masked")
    randomize(model, 2)
    x = np.array([[0, 0, 3, 4, 5], [1, 2, 0, 4, 8], [0, 0, 0, 0, 0], [6, 7, 8, 1, 2]], np.int32)
    assert "Scan" in assert_as_engine(model, [x])
    seq_out = run_onnx(model, [x])[0][1]
    assert np.all(seq_out[0, :2] == 0) and np.all(seq_out[2] == 0) and np.all(seq_out[1, 2] == 0)
    assert np.all(seq_out[3] != 0)


def test_convolution_and_pooling_variants():
    image, steps = L.Input(shape=(7, 5, 2), name="image"), L.Input(shape=(9, 2), name="steps")
    nodes = [
        Node(L.Conv2D(3, (2, 3), strides=(2, 2), padding="same", activation="tanh", name="c_same"), ["image"]),
        Node(L.AveragePooling2D((2, 2), strides=(1, 2), padding="same", name="avg_same"), ["c_same"]),
        Node(L.MaxPooling2D((3, 2), strides=1, padding="same", name="max_same"), ["avg_same"]),
        Node(L.LayerNormalization(axis=[1, 2], name="norm_hw"), ["max_same"]),
        Node(L.UpSampling2D((1, 3), name="up"), ["norm_hw"]),
        Node(L.GlobalAveragePooling2D(keepdims=True, name="gap"), ["up"]),
        Node(L.Flatten(name="flat"), ["gap"]),
        Node(L.Conv1D(2, 3, dilation_rate=2, padding="same", activation="relu", name="c1"), ["steps"]),
        Node(L.MaxPooling1D(2, padding="same", name="max1"), ["c1"]),
        Node(L.Conv1D(2, 2, strides=2, use_bias=False, name="c1_stride"), ["max1"]),
        Node(L.GlobalMaxPooling1D(name="gmax1"), ["c1_stride"]),
    ]
    model = Model([image, steps], nodes, ["flat", "gmax1"], name="conv")
    randomize(model, 3)
    rng = np.random.default_rng(4)
    xs = [rng.normal(size=(3, 7, 5, 2)).astype(np.float32), rng.normal(size=(3, 9, 2)).astype(np.float32)]
    ops = assert_as_engine(model, xs)
    assert "LayerNormalization" not in ops  # over height and width, not the last axes: its formula


def test_a_convolution_over_steps_of_unknown_number_is_refused_naming_the_layer():
    from nntrain.errors import ConfigError

    steps = L.Input(shape=(None, 2), name="steps")
    model = Model([steps], [Node(L.Conv1D(2, 3, padding="same", name="conv"), ["steps"]),
                            Node(L.GlobalMaxPooling1D(name="gmax"), ["conv"])], ["gmax"])
    with pytest.raises(ConfigError, match=r"layer `conv` \(Conv1D\): ONNX export needs inputs of known size, got "
                                          r"\[None, 2\]"):
        run_onnx(model, [np.zeros((1, 4, 2), np.float32)])
