"""The `impute` step folded into an ONNX export: a served model takes raw rows with missing values (NaN in a numeric
column, an empty string or a missing token in a categorical one) and gives what `nntrain predict` gives for the same
rows read from a CSV file with empty cells, indicator features included; a numeric array input likewise."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install 'nntrain[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="the round trips run in ONNX Runtime: pip install 'nntrain[onnx]'")

from nntrain.interop.onnx_export import export_onnx  # noqa: E402
from tests.helpers import invoke  # noqa: E402

CONFIG = """\
name: imp
seed: 3
data:
  train: {train}
  target: y
  preprocessing:
    - impute: {{strategy: {strategy}, add_indicator: true}}
    - standardize
model:
  layers:
    - Dense: {{units: 6, activation: relu}}
    - Dense: {{units: 2, activation: softmax}}
loss: sparse_categorical_crossentropy
training: {{epochs: 3, batch_size: 16}}
"""


def _predicted(folder, new: str) -> np.ndarray:
    """nntrain predict --proba on the file `new`: (rows, 2) probabilities."""
    result = invoke("predict", "runs/imp", new, "--proba", "--output", "out.csv", cwd=folder)
    assert result.returncode == 0, result.stderr
    return np.array([[float(r["p_0"]), float(r["p_1"])] for r in csv.DictReader((folder / "out.csv").open())])


def _served(path, feeds: dict) -> np.ndarray:
    session = ort.InferenceSession(path)
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))["probabilities"]


@pytest.mark.parametrize("strategy", ["median", "most_frequent"])
def test_a_table_with_missing_values_is_served_as_predict_reads_it(tmp_path, strategy):
    rng = np.random.default_rng(0)
    lines = ["a,b,color,y"]
    for i in range(80):  # a and color have missing training values (indicators), b has none
        a = "" if i % 6 == 0 else f"{rng.normal():.4f}"
        color = ["red", "blue", "green", "", "NA"][i % 5]
        lines.append(f"{a},{rng.normal():.4f},{color},{i % 2}")
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "imp.yaml").write_text(CONFIG.format(train="t.csv", strategy=strategy))
    assert invoke("fit", "imp.yaml", "-q", cwd=tmp_path).returncode == 0
    rows = [("", "0.3", "red"), ("0.5", "-1.2", ""), ("0.7", "NaN", "?"), ("-0.2", "0.9", "blue"), ("?", "", "NA")]
    (tmp_path / "new.csv").write_text("a,b,color\n" + "\n".join(",".join(r) for r in rows) + "\n")
    expected = _predicted(tmp_path, "new.csv")
    info = export_onnx(tmp_path / "runs" / "imp", tmp_path / "imp.onnx")
    assert [(i["name"], i["dtype"], i.get("columns")) for i in info["inputs"]] == [
        ("input", "float32", ["a", "b"]), ("color", "string", ["color"])]  # the indicators are computed, not fed
    numbers = np.array([[np.nan if v in ("", "?", "NaN") else float(v) for v in r[:2]] for r in rows], np.float32)
    got = _served(tmp_path / "imp.onnx", {"input": numbers, "color": np.array([r[2] for r in rows], dtype=object)})
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_an_array_input_with_missing_values_is_served_as_predict_reads_it(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3))
    x[::5, 1] = np.nan
    np.savez(tmp_path / "train.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    (tmp_path / "imp.yaml").write_text(CONFIG.format(train="train.npz", strategy="mean").replace("  target: y\n", ""))
    assert invoke("fit", "imp.yaml", "-q", cwd=tmp_path).returncode == 0
    new = np.array([[0.1, np.nan, 2.0], [-1.0, 0.5, np.nan], [0.3, 0.2, 0.1]])
    np.save(tmp_path / "new.npy", new)
    expected = _predicted(tmp_path, "new.npy")
    export_onnx(tmp_path / "runs" / "imp", tmp_path / "imp.onnx")
    got = _served(tmp_path / "imp.onnx", {"input": new.astype(np.float32)})
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
