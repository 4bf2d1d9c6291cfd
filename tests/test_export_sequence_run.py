"""A trained run with the new layers, end to end: YAML -> `nntrain fit` -> `nntrain export` to Keras and to ONNX ->
the files predict what `Run.predict` predicts. Word ids padded in front (a masked Embedding), a Bidirectional LSTM,
a GRU and a Dense applied twice (a shared layer), trained one epoch on a small CSV."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from nntrain.interop.keras_read import engine_model, read_keras
from tests.helpers import invoke

MODEL = {
    "inputs": {"ids": [6]},
    "layers": [
        {"name": "emb", "type": "Embedding", "input_dim": 10, "output_dim": 4, "mask_zero": True, "inputs": "ids"},
        {"name": "bi", "type": "Bidirectional", "layer": {"type": "LSTM", "units": 3, "return_sequences": True},
         "inputs": "emb"},
        {"name": "gru", "type": "GRU", "units": 3, "inputs": "bi"},
        {"name": "proj", "type": "Dense", "units": 3, "activation": "tanh", "inputs": "gru"},
        {"name": "proj_again", "reuse": "proj", "inputs": "proj"},
        {"name": "out", "type": "Dense", "units": 1, "activation": "sigmoid", "inputs": "proj_again"},
    ],
    "outputs": ["out"],
}


def _ids(rng, n: int) -> np.ndarray:
    ids = rng.integers(1, 10, (n, 6))
    for row, start in zip(ids, rng.integers(0, 6, n)):
        row[:start] = 0  # padding in front, as pad_sequences
    return ids


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import nntrain

    folder = tmp_path_factory.mktemp("sequence_run")
    rng = np.random.default_rng(0)
    ids = _ids(rng, 48)
    labels = (ids.sum(axis=1) > 20).astype(int)
    columns = [f"t{i}" for i in range(6)]
    (folder / "seq.csv").write_text(",".join([*columns, "label"]) + "\n" + "".join(
        ",".join(map(str, [*row, y])) + "\n" for row, y in zip(ids, labels)))
    config = {"name": "seq", "seed": 0, "data": {"train": "seq.csv", "features": columns, "target": "label"},
              "model": MODEL, "loss": "binary_crossentropy", "optimizer": "adam",
              "training": {"epochs": 1, "batch_size": 16}}
    (folder / "seq.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    r = invoke("fit", "seq.yaml", "-q", cwd=folder)
    assert r.returncode == 0, r.stderr
    return folder, nntrain.load_run(folder / "runs" / "seq"), _ids(rng, 7).astype(float)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])  # the legacy .h5 keeps recurrent weights under other names
def test_the_keras_export_predicts_as_the_run(run, suffix):
    folder, trained, rows = run
    r = invoke("export", "runs/seq", "-o", f"seq{suffix}", cwd=folder)
    assert r.returncode == 0, r.stderr
    km = read_keras(folder / f"seq{suffix}")
    assert [(l["class_name"], len(l["reuses"])) for l in km.layers if l["config"]["name"] == "proj"] == [("Dense", 1)]
    (probs,) = engine_model(km).predict_on_batch([rows.astype(np.float32)])
    np.testing.assert_allclose(probs[:, 0], trained.predict(rows, proba=True)[:, 1], atol=1e-6)


def test_the_onnx_export_predicts_as_the_run(run):
    ort = pytest.importorskip("onnxruntime", reason="the ONNX round trip needs the onnx extra")
    folder, trained, rows = run
    r = invoke("export", "runs/seq", "--format", "onnx", "-o", "seq.onnx", cwd=folder)
    assert r.returncode == 0, r.stderr
    session = ort.InferenceSession(folder / "seq.onnx")
    prediction, probabilities = session.run(None, {"input": rows.astype(np.float32)})
    np.testing.assert_allclose(probabilities, trained.predict(rows, proba=True), atol=1e-5)
    assert list(prediction) == list(trained.predict(rows))
