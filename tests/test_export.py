"""`nntrain export`: a trained run's model as a Keras .keras file (read back here without Keras, its layout checked
against real Keras files in test_keras_files.py), the preprocessing JSON beside it, and clear refusals."""

from __future__ import annotations

import json
import sys
import zipfile

import numpy as np
import pytest
import yaml

from nntrain.errors import ConfigError
from nntrain.interop.keras_read import engine_model, read_keras
from tests.helpers import ROOT, invoke

CONFIG = ROOT / "tests" / "configs" / "iris_small.yaml"


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    r = invoke("fit", CONFIG, "--set", "training.epochs=3", "--runs-dir", root / "runs", "-q", cwd=root)
    assert r.returncode == 0, r.stderr
    return root / "runs" / "iris_small", root


def test_export_writes_a_keras_file_that_predicts_what_the_run_predicts(iris):
    import nntrain

    run_dir, root = iris
    r = invoke("export", run_dir, "-o", root / "iris.keras", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["class_name"] == "Sequential" and report["epoch"] == 3 and report["checkpoint"] == "best"
    with zipfile.ZipFile(root / "iris.keras") as z:
        meta = json.loads(z.read("metadata.json"))
    assert meta["keras_version"].startswith("3.") and meta["nntrain"]["epoch"] == 3
    assert meta["nntrain"]["source_run"] == str(run_dir.resolve())
    assert meta["nntrain"]["nntrain_version"] == nntrain.__version__
    run = nntrain.load_run(run_dir)
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])
    # the preprocessing JSON applied by hand, as the README shows, then the exported model
    pre = json.loads((root / "iris.preprocessing.json").read_text())
    (step,) = pre["preprocessor"]["inputs"]["input"]["steps"]
    assert step["name"] == "standardize"
    x = ((rows - np.array(step["state"]["shift"])) / np.array(step["state"]["scale"])).astype(np.float32)
    (probs,) = engine_model(read_keras(root / "iris.keras")).predict_on_batch([x])
    np.testing.assert_allclose(probs, run.predict(rows, proba=True), atol=1e-5)
    assert pre["outputs"]["output"]["class_names"] == run.classes == ["setosa", "versicolor", "virginica"]


def test_a_functional_run_with_two_inputs_and_two_outputs_round_trips(tmp_path):
    """Wide & deep with an auxiliary output (configs/wide_deep_aux.yaml's model) on a small CSV."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8))
    y = x[:, :3].sum(axis=1) + 0.1 * rng.normal(size=60)
    header = ",".join(f"c{i}" for i in range(8)) + ",y\n"
    (tmp_path / "house.csv").write_text(header + "".join(",".join(f"{v:.4f}" for v in (*r, t)) + "\n"
                                                         for r, t in zip(x, y)))
    config = yaml.safe_load((ROOT / "configs" / "wide_deep_aux.yaml").read_text())
    config["data"] = {"train": "house.csv", "inputs": {"wide": [f"c{i}" for i in range(5)],
                                                      "deep": [f"c{i}" for i in range(2, 8)]},
                      "outputs": {"main": "y", "aux": "y"}, "preprocessing": {"wide": ["standardize"],
                                                                             "deep": ["standardize"]}}
    config["training"] = {"epochs": 2, "batch_size": 16, "validation_split": 0.2}
    (tmp_path / "wd.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert invoke("fit", "wd.yaml", "-q", cwd=tmp_path).returncode == 0
    r = invoke("export", "runs/wide_deep_aux", "-o", "wd.keras", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Keras 3.15.1 Functional, 7 layers" in r.stdout
    km = read_keras(tmp_path / "wd.keras")
    assert [i["name"] for i in km.inputs] == ["wide", "deep"] and km.outputs == ["main", "aux"]
    import nntrain

    run = nntrain.load_run(tmp_path / "runs" / "wide_deep_aux")
    xs = [rng.normal(size=(5, 5)).astype(np.float32), rng.normal(size=(5, 6)).astype(np.float32)]
    for ours, theirs in zip(engine_model(km).predict_on_batch(xs), run.model.predict_on_batch(xs)):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    # the Python API on the same two-input, two-output run: raw columns in, one array per output
    values = run.predict({f"c{i}": np.round(x[:4, i], 4) for i in range(8)})  # the values rows.csv holds
    assert sorted(values) == ["aux", "main"] and values["main"].shape == (4,)
    with open(tmp_path / "rows.csv", "w") as fp:
        fp.write(header + "".join(",".join(f"{v:.4f}" for v in (*r, 0)) + "\n" for r in x[:4]))
    r = invoke("predict", "runs/wide_deep_aux", "rows.csv", "-o", "p.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    cli = np.genfromtxt(tmp_path / "p.csv", delimiter=",", names=True)
    np.testing.assert_allclose(values["main"], cli["main_prediction"], rtol=1e-5)


def test_a_model_keras_cannot_express_is_refused_naming_the_layer():
    from nntrain.engine.layers import Dense
    from nntrain.engine.model import Sequential
    from nntrain.interop.keras_write import keras_config

    model = Sequential([Dense(4, activation={"name": "gelu", "approximate": True}, name="h"), Dense(1)],
                       input_shape=[3])
    with pytest.raises(ConfigError, match=r"layer `h` \(Dense\): activation gelu\(approximate=True\) has no Keras "
                                          r"equivalent"):
        keras_config(model)
    with pytest.raises(ConfigError, match=r"layer `a/b` \(Dense\): Keras does not allow '/' in a layer name"):
        keras_config(Sequential([Dense(1, name="a/b")], input_shape=[3]))


def test_export_refusals_exit_2(iris, monkeypatch):
    run_dir, root = iris
    r = invoke("export", run_dir, "-o", root / "iris.txt")
    assert r.returncode == 2 and "ending in .keras, .h5, .onnx" in r.stderr
    r = invoke("export", run_dir, "--format", "keras", "-o", root / "iris.onnx")
    assert r.returncode == 2 and "a keras file ends in .keras or .h5" in r.stderr
    r = invoke("export", run_dir, "-o", root / "no" / "such" / "iris.keras")
    assert r.returncode == 2 and "No such file or directory" in r.stderr and "Traceback" not in r.stderr
    monkeypatch.setitem(sys.modules, "onnx", None)  # as where the onnx extra is not installed
    r = invoke("export", run_dir, "-o", root / "iris.onnx")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "onnx" in r.stderr and not (root / "iris.onnx").exists()
