"""Model outputs decoded once (nntrain.runs.trained) for predict and evaluate: probabilities from logits or not,
label sets, values back in raw target units; and a multi-output run whose data section lists its outputs in
another order than the model gets each column under the right output in both commands."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from nntrain.runs.trained import decode_classes, decode_labels, decode_values


def test_classes_from_probabilities_and_from_logits_agree():
    z = np.array([[2.0, -1.0, 0.5], [-3.0, 4.0, 1.0]])
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    from_logits, given = decode_classes(z, logits=True), decode_classes(probs)
    np.testing.assert_allclose(from_logits.probs, probs, rtol=1e-12)
    assert from_logits.index.tolist() == given.index.tolist() == [0, 1]


def test_one_sigmoid_unit_gives_two_classes_and_extreme_logits_stay_finite():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow in exp
        d = decode_classes(np.array([[-800.0], [0.0], [3.0]]), logits=True)
    np.testing.assert_allclose(d.probs[:, 1], [0.0, 0.5, 1 / (1 + np.exp(-3.0))], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(d.probs.sum(axis=1), 1.0)
    assert d.index.tolist() == [0, 0, 1]  # a tie goes to the first class
    np.testing.assert_allclose(decode_classes(np.array([0.2, 0.9])).probs, [[0.8, 0.2], [0.1, 0.9]])


def test_labels_are_on_above_one_half():
    d = decode_labels(np.array([[1.0, -1.0, 0.0]]), logits=True)
    assert d.on.tolist() == [[True, False, False]]
    assert decode_labels(np.array([[0.7, 0.2]])).on.tolist() == [[True, False]]


def _target_pipeline(steps: list[dict]):
    """The output pipeline a checkpoint's preprocessing state (format nntrain.preprocessor/1) rebuilds."""
    from nntrain.data import Preprocessor

    state = {"format": "nntrain.preprocessor/1", "single_input": 1, "single_output": 1, "inputs": {},
             "outputs": {"y": {"source": {}, "encoder": {"name": "y", "task": "regression", "width": 2},
                               "steps": steps}}}
    return Preprocessor.from_state(state).outputs["y"]


def test_values_undo_the_target_steps_or_stay_in_model_units():
    standardize = {"name": "standardize", "config": {},
                   "state": {"shift": np.array([10.0, 100.0], np.float32), "scale": np.array([2.0, 4.0], np.float32)}}
    rescale = {"name": "rescale", "config": {"scale": 0.5, "offset": 1.0}, "state": {}}
    out = np.array([[0.0, 1.0], [-1.0, 0.5]], np.float32)
    d = decode_values(_target_pipeline([standardize, rescale]), out)
    assert d.raw_units
    np.testing.assert_allclose(d.values, [[6.0, 100.0], [2.0, 96.0]])  # (out - 1) / 0.5, then * scale + shift
    kept = decode_values(_target_pipeline([{"name": "flatten", "config": {}, "state": {}}]), out)
    assert not kept.raw_units and kept.values.dtype == np.float64
    np.testing.assert_array_equal(kept.values, out)


MULTI = """\
name: multi
seed: 5
data: {train: multi.npz, test_split: 0.25, inputs: {x: x}, outputs: {val: b, cls: a}}
model:
  inputs: {x: null}
  layers:
    - {name: h, type: Dense, units: 8, activation: relu, inputs: x}
    - {name: cls, type: Dense, units: 4, inputs: h}
    - {name: val, type: Dense, units: 1, inputs: h}
  outputs: [cls, val]
loss: {cls: {name: sparse_categorical_crossentropy, from_logits: true}, val: mse}
metrics: {cls: [accuracy]}
optimizer: {name: adam, learning_rate: 0.02}
training: {epochs: 3, batch_size: 16, validation_split: 0.2}
"""


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory):
    """A two-output run (classes from logits, a value) whose data section names the outputs in reverse order."""
    from nntrain.cli import app

    root = tmp_path_factory.mktemp("multi")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 6)).astype(np.float32)
    a = (x[:, 2] > 0).astype(np.int64) + 2 * (x[:, 3] > 0)
    np.savez(root / "multi.npz", x=x, a=a, b=3 * x[:, :1] + 10)
    (root / "multi.yaml").write_text(MULTI)
    result = CliRunner().invoke(app, ["fit", str(root / "multi.yaml"), "--runs-dir", str(root / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    return root / "runs" / "multi", x, a


def test_each_output_keeps_its_columns_and_predict_agrees_with_evaluate(multi_run, tmp_path):
    from nntrain.commands.evaluate import evaluate
    from nntrain.commands.predict import predict
    from nntrain.runs.trained import load_trained

    run, x, a = multi_run
    with np.load(run / "splits.npz") as z:
        test = z["test"]
    np.save(tmp_path / "test.npy", x[test])
    result = predict(run, tmp_path / "test.npy", output=tmp_path / "p.csv", proba=True)
    assert result.columns == ["row", "cls_prediction", "cls_p_0", "cls_p_1", "cls_p_2", "cls_p_3", "val_prediction"]
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    logits, value = load_trained(run).model.predict_on_batch([x[test]])
    probs = np.array([[float(r[f"cls_p_{k}"]) for k in range(4)] for r in rows])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert [int(r["cls_prediction"]) for r in rows] == logits.argmax(axis=1).tolist() == probs.argmax(axis=1).tolist()
    np.testing.assert_allclose([float(r["val_prediction"]) for r in rows], value[:, 0], rtol=1e-6)

    report = evaluate(run, split="test").report["outputs"]
    assert set(report) == {"cls", "val"} and report["val"]["units"] == "raw target"
    confusion = np.zeros((4, 4), int)
    np.add.at(confusion, (a[test], probs.argmax(axis=1)), 1)
    assert report["cls"]["confusion_matrix"] == confusion.tolist()
