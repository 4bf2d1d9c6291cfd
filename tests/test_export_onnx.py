"""ONNX export round trips: every example config on a bundled (or small local) dataset is trained for an epoch,
exported, and run in ONNX Runtime on its test rows, against the predictions nntrain computes.

With the preprocessing folded in, the ONNX model takes the raw test values (feature columns, categorical columns
as strings) and must give nntrain predict's class names, probabilities and raw-unit values; without it, it takes
the preprocessed model inputs and must give the engine's model outputs. Both within 1e-5. The Keras-catalogue
configs (California housing and wide & deep with two inputs and two outputs, Fashion-MNIST, IMDB and Reuters with
100 words instead of 10,000) read small files in the catalogue's formats from a local cache.
Extra configs cover what the examples do not: a categorical column, BatchNormalization, every activation, Add,
Reshape, and text as Embedding ids or multi-hot rows.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install 'nntrain[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="the round trips run in ONNX Runtime: pip install 'nntrain[onnx]'")

from nntrain import __version__
from nntrain.data import load_raw
from nntrain.data.sources import catalogue
from nntrain.data.tables import Table
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError
from nntrain.interop.onnx_export import ExportError, export_onnx
from nntrain.runs.trained import decode, load_trained
from tests.data_helpers import idx_bytes
from tests.helpers import invoke

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))  # every one, on small data for the catalogue
TOLERANCE = 1e-5

ACTIVATIONS = ["relu", "{name: leaky_relu, alpha: 0.1}", "elu", "selu", "gelu", "{name: gelu, approximate: true}",
               "tanh", "softplus", "softsign", "swish", "hard_sigmoid", "sigmoid", "linear"]
# one Dense of 6 per activation, chained after the BatchNormalization
CHAIN = "\n".join(f"    - {{name: d{i}, type: Dense, units: 6, activation: {a}, inputs: {f'd{i - 1}' if i else 'norm'}}}"
                  for i, a in enumerate(ACTIVATIONS))
MIXED = """\
name: mixed
seed: 0
data:
  train: mixed.csv
  features: [x1, color, x2, size]     # a categorical column between numeric ones
  outputs: {kind: kind, amount: amount}
  test_split: 0.25
  preprocessing: [standardize]
  target_preprocessing: {amount: [standardize]}
model:
  inputs: {features: [6]}         # x1, color=blue|green|red, x2, size
  layers:
    - {name: norm, type: BatchNormalization, momentum: 0.5, inputs: features}
CHAIN
    - {name: act, type: Activation, activation: {name: softmax, axis: -1}, inputs: LAST}
    - {name: drop, type: Dropout, rate: 0.2, inputs: act}
    - {name: grid, type: Reshape, target_shape: [2, 3], inputs: drop}
    - {name: flat, type: Flatten, inputs: grid}
    - {name: sum, type: Add, inputs: [flat, d0]}
    - {name: kind, type: Dense, units: 3, activation: softmax, inputs: sum}
    - {name: amount, type: Dense, units: 1, inputs: sum}
  outputs: [kind, amount]
loss: {kind: sparse_categorical_crossentropy, amount: mse}
metrics: {kind: [accuracy]}
optimizer: {name: adam, learning_rate: 0.01}
training: {epochs: 2, batch_size: 16}
""".replace("CHAIN", CHAIN).replace("LAST", f"d{len(ACTIVATIONS) - 1}")


def _text_config(name: str, step: str, layers: list[str]) -> str:
    """A binary classifier of the reviews/ texts (tokenizer of 30 words), one preprocessing step."""
    return f"""\
name: {name}
seed: 1
data:
  train: reviews
  test_split: 0.25
  tokenizer: {{num_words: 30}}
  preprocessing: [{step}]
model:
  layers:
""" + "".join(f"    - {layer}\n" for layer in layers) + """\
loss: binary_crossentropy
optimizer: {name: rmsprop, learning_rate: 0.01}
training: {epochs: 2, batch_size: 16}
"""


EMBEDDING = _text_config("embedding", "pad_sequences: {maxlen: 10}", [
    "Embedding: {input_dim: 32, output_dim: 4}", "GlobalAveragePooling1D: {}", "Dense: {units: 1, activation: sigmoid}"])
MULTI_HOT = _text_config("multi_hot", "multi_hot: {dimension: 32}", [
    "Dense: {units: 4, activation: relu}", "Dense: {units: 1, activation: sigmoid}"])
RECURRENT = """\
name: recurrent
seed: 2
data:
  train: reviews
  test_split: 0.25
  tokenizer: {num_words: 30}
  preprocessing: [{pad_sequences: {maxlen: 8, padding: post}}]   # zeros after the words, masked
model:
  inputs: {ids: {shape: [8], dtype: int32}}
  layers:
    - {name: emb, type: Embedding, input_dim: 32, output_dim: 4, mask_zero: true, inputs: ids}
    - {name: gru, type: GRU, units: 5, return_sequences: true, inputs: emb}
    - {name: bi, type: Bidirectional, layer: {SimpleRNN: {units: 3, return_sequences: true}}, merge_mode: ave,
       inputs: gru}
    - {name: back, type: LSTM, units: 4, go_backwards: true, recurrent_activation: hard_sigmoid, inputs: bi}
    - {name: both, type: Bidirectional, layer: {LSTM: {units: 2}}, inputs: gru}
    - {name: proj, type: Dense, units: 3, activation: tanh, inputs: back}
    - {reuse: proj, name: proj_both, inputs: both}
    - {name: pool, type: GlobalAveragePooling1D, inputs: emb}
    - {name: join, type: Concatenate, inputs: [proj, proj_both, pool]}
    - {name: out, type: Dense, units: 1, activation: sigmoid, inputs: join}
  outputs: [out]
loss: binary_crossentropy
optimizer: {name: rmsprop, learning_rate: 0.01}
training: {epochs: 2, batch_size: 16}
"""
IMAGES = """\
name: images
seed: 4
data:
  dataset: digits
  preprocessing: [{rescale: {scale: 0.0625}}, {reshape: {shape: [8, 8, 1]}}]
model:
  inputs: {pixels: [8, 8, 1]}
  layers:
    - {name: conv, type: Conv2D, filters: 4, kernel_size: 3, padding: same, activation: relu, inputs: pixels}
    - {name: pad, type: ZeroPadding2D, padding: [[1, 0], [0, 1]], inputs: conv}
    - {name: maxp, type: MaxPooling2D, pool_size: 3, strides: 2, padding: same, inputs: pad}
    - {name: conv2, type: Conv2D, filters: 3, kernel_size: [2, 3], strides: 2, padding: same, inputs: maxp}
    - {name: avg, type: AveragePooling2D, pool_size: 2, strides: 1, padding: same, inputs: conv2}
    - {name: up, type: UpSampling2D, size: [2, 3], inputs: avg}
    - {name: sdrop, type: SpatialDropout2D, rate: 0.2, inputs: up}
    - {name: norm, type: LayerNormalization, axis: [1, 2, 3], inputs: sdrop}
    - {name: gmax, type: GlobalMaxPooling2D, inputs: norm}
    - {name: gavg, type: GlobalAveragePooling2D, inputs: conv}
    - {name: seq, type: Reshape, target_shape: [64, 1], inputs: pixels}
    - {name: conv1, type: Conv1D, filters: 3, kernel_size: 3, padding: causal, dilation_rate: 2, activation: tanh,
       inputs: seq}
    - {name: pool1, type: MaxPooling1D, pool_size: 2, inputs: conv1}
    - {name: sdrop1, type: SpatialDropout1D, rate: 0.1, inputs: pool1}
    - {name: gmax1, type: GlobalMaxPooling1D, inputs: sdrop1}
    - {name: ln, type: LayerNormalization, inputs: gmax1}
    - {name: join, type: Concatenate, inputs: [gmax, gavg, ln]}
    - {name: out, type: Dense, units: 10, activation: softmax, inputs: join}
  outputs: [out]
loss: sparse_categorical_crossentropy
optimizer: adam
training: {epochs: 1, batch_size: 64}
"""
EXTRA = {"mixed": MIXED, "embedding": EMBEDDING, "multi_hot": MULTI_HOT, "recurrent": RECURRENT, "images": IMAGES}
# the same graphs on less: 100 words instead of 10,000 (files 100 times smaller), 20 steps instead of 200
MULTI_HOT_100 = ["data.options.num_words=100", "data.preprocessing.0.multi_hot.dimension=100"]
SMALLER = {"imdb": MULTI_HOT_100, "reuters": MULTI_HOT_100, "reuters_bottleneck": MULTI_HOT_100,
           "reuters_dropout": MULTI_HOT_100,
           "imdb_lstm": ["data.options.num_words=100", "data.preprocessing.0.pad_sequences.maxlen=20",
                         "model.layers.0.Embedding.input_dim=100"]}


def _write_data(folder: Path) -> None:
    """mixed.csv (numbers, a colour, a class and an amount) and a reviews/ folder of short texts per class."""
    rng = np.random.default_rng(0)
    colors = np.array(["red", "green", "blue"])
    with open(folder / "mixed.csv", "w", newline="") as fp:
        out = csv.writer(fp)
        out.writerow(["x1", "color", "x2", "size", "kind", "amount"])
        for _ in range(96):
            x1, x2, c = rng.normal(5, 2), rng.normal(-1, 0.5), int(rng.integers(3))
            size = rng.uniform(10, 100)
            kind = ["small", "medium", "large"][int(size // 34)]
            out.writerow([f"{x1:.3f}", colors[c], f"{x2:.3f}", f"{size:.2f}", kind, f"{1000 * x1 + 300 * c:.2f}"])
    rnd = random.Random(0)
    for label, words in (("pos", ["great", "loved", "superb", "fun"]), ("neg", ["awful", "boring", "bad", "dull"])):
        (folder / "reviews" / label).mkdir(parents=True)
        for i in range(24):
            text = " ".join(rnd.choice(["the", "movie", "was", "a", "plot"] + words) for _ in range(rnd.randint(3, 14)))
            (folder / "reviews" / label / f"{i}.txt").write_text(text)


def _ragged(rng, n: int) -> np.ndarray:
    """(n,) object array of word-id lists, as Keras's imdb.npz and reuters.npz hold them."""
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = rng.integers(1, 60, size=rng.integers(2, 15)).tolist()
    return out


def _catalogue_files(cache: Path) -> dict[str, str]:
    """Small files in the Keras catalogue's formats, in the dataset cache; returns file name -> SHA-256."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 8)) * np.arange(1, 9) + np.arange(8) * 10
    y = 2e5 + 5e4 * np.tanh((x - x.mean(0)) / x.std(0) @ rng.normal(size=8) / 3)  # dollars
    (cache / catalogue.FASHION_SUBDIR).mkdir(parents=True)
    np.savez(cache / "california_housing.npz", x=x, y=y)
    np.savez(cache / "imdb.npz", x_train=_ragged(rng, 40), y_train=np.arange(40) % 2, x_test=_ragged(rng, 20),
             y_test=np.arange(20) % 2)
    np.savez(cache / "reuters.npz", x=_ragged(rng, 120), y=np.arange(120) % 46)
    fashion = [np.arange(60) % 10, rng.integers(0, 256, (60, 28, 28)), np.arange(20) % 10,
               rng.integers(0, 256, (20, 28, 28))]
    for name, a in zip(catalogue.FASHION_FILES, fashion):
        (cache / catalogue.FASHION_SUBDIR / name).write_bytes(idx_bytes(a))
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in cache.rglob("*") if f.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run folder by config name: the example configs (one epoch) and EXTRA (two)."""
    folder = tmp_path_factory.mktemp("onnx")
    _write_data(folder)
    env = {"NNTRAIN_CACHE_DIR": str(folder / "cache"), "KERAS_HOME": str(folder / "keras"),
           "NNTRAIN_DATASETS_URL": "http://127.0.0.1:9/"}  # nothing is downloaded: a request would fail
    configs = [ROOT / "configs" / f"{name}.yaml" for name in EXAMPLES]
    for name, text in EXTRA.items():
        (folder / f"{name}.yaml").write_text(text)
        configs.append(folder / f"{name}.yaml")
    with pytest.MonkeyPatch.context() as mp:  # for the module's tests too: they read the test rows again
        for name, digest in _catalogue_files(folder / "cache").items():
            mp.setitem(catalogue.SHA256, name, digest)
        for key, value in env.items():
            mp.setenv(key, value)
        for path in configs:
            sets = [] if path.parent == folder else ["--set", "training.epochs=1"]
            for key_value in SMALLER.get(path.stem, ()):
                sets += ["--set", key_value]
            result = invoke("fit", path, "-q", *sets, cwd=folder)
            assert result.returncode == 0, result.stderr
        yield {p.stem: folder / "runs" / p.stem for p in configs}


def _dense(x) -> np.ndarray:
    return x.toarray() if isinstance(x, MultiHot) else np.asarray(x)


def _raw_feeds(described: list[dict], raw_x: dict, pre) -> dict:
    """What a user feeds the folded model: each input's raw columns, as the export's metadata describes them."""
    feeds = {}
    for d in described:
        raw = raw_x[d["feeds"]]
        if isinstance(raw, Table) and d["dtype"] == "string":
            feeds[d["name"]] = np.asarray(raw.columns[d["columns"][0]], dtype=object)
        elif isinstance(raw, Table):
            feeds[d["name"]] = np.stack([raw.columns[c] for c in d["columns"]], axis=1).astype(np.float32)
        elif pre.inputs[d["feeds"]].kind == "array":
            feeds[d["name"]] = np.asarray(raw, np.float32)
        else:  # text: the multi-hot rows or padded ids the pipeline makes
            feeds[d["name"]] = _dense(pre.inputs[d["feeds"]].transform(raw)).astype(d["dtype"])
    return feeds


def _run(path: Path, feeds: dict) -> dict[str, np.ndarray]:
    """ONNX Runtime's outputs by name."""
    session = ort.InferenceSession(path)
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def _differences(run: Path, tmp_path: Path) -> dict[str, float]:
    """Largest |ONNX - nntrain| over the run's test rows, folded and plain; asserts the class names agree."""
    trained = load_trained(run)
    raw = load_raw(trained.config["data"], trained.base_dir)
    pre, model = trained.preprocessor, trained.model
    xs = model.as_input_list(pre.transform_x(raw.test.x))  # as nntrain predict computes its predictions
    outs = model.predict_on_batch(xs)

    folded = export_onnx(trained, tmp_path / "folded.onnx")
    got = _run(tmp_path / "folded.onnx", _raw_feeds(folded["inputs"], raw.test.x, pre))
    diffs = {"folded": 0.0}
    for output, out in zip(trained.outputs, outs):
        d, prefix = decode(output, out), "" if len(trained.outputs) == 1 else f"{output.name}_"
        if d.index is not None:
            assert list(got[prefix + "prediction"]) == [output.classes[i] for i in d.index]
        if d.probs is not None:
            diffs["folded"] = max(diffs["folded"], float(np.abs(got[prefix + "probabilities"] - d.probs).max()))
        if d.values is not None:  # raw target units (dollars) per model unit: the float32 rounding scales with them
            unit = np.abs(output.pipeline.inverse_transform(np.ones(1)) - output.pipeline.inverse_transform(np.zeros(1)))
            diffs["folded"] = max(diffs["folded"], float((np.abs(got[prefix + "prediction"] - d.values) / unit).max()))

    plain = export_onnx(trained, tmp_path / "plain.onnx", preprocessing=False)
    session = ort.InferenceSession(tmp_path / "plain.onnx")
    got = session.run(None, {i["name"]: _dense(x) for i, x in zip(plain["inputs"], xs)})
    diffs["plain"] = max(float(np.abs(g - o).max()) for g, o in zip(got, outs))
    return diffs


@pytest.mark.parametrize("name", [*EXAMPLES, *EXTRA])
def test_onnx_runtime_predicts_as_nntrain(runs, name, tmp_path):
    diffs = _differences(runs[name], tmp_path)
    assert diffs["folded"] <= TOLERANCE and diffs["plain"] <= TOLERANCE, diffs


def test_served_model_reads_raw_csv_values_as_nntrain_predict_does(runs, tmp_path):
    """The mixed run's folded model on new CSV rows, an unseen colour among them, against `nntrain predict`."""
    rows = [[4.2, "red", -1.3, 20.0], [7.5, "purple", -0.2, 55.5], [1.0, "blue", -2.0, 99.0], [5.0, "green", 0.0, 40]]
    with open(tmp_path / "new.csv", "w", newline="") as fp:
        csv.writer(fp).writerows([["x1", "color", "x2", "size"], *rows])
    result = invoke("predict", runs["mixed"], tmp_path / "new.csv", "--proba", "--output", tmp_path / "out.csv")
    assert result.returncode == 0, result.stderr
    expected = list(csv.DictReader((tmp_path / "out.csv").open()))

    info = export_onnx(runs["mixed"], tmp_path / "mixed.onnx")
    assert [(i["name"], i["dtype"]) for i in info["inputs"]] == [("input", "float32"), ("color", "string")]
    assert info["inputs"][0]["columns"] == ["x1", "x2", "size"]
    assert info["inputs"][1]["categories"] == ["blue", "green", "red"]
    feeds = {"input": np.asarray([[r[0], r[2], r[3]] for r in rows], np.float32),
             "color": np.asarray([r[1] for r in rows], dtype=object)}
    got = _run(tmp_path / "mixed.onnx", feeds)
    assert list(got["kind_prediction"]) == [r["kind_prediction"] for r in expected]
    classes = ["large", "medium", "small"]
    np.testing.assert_allclose(got["kind_probabilities"], [[float(r[f"kind_p_{c}"]) for c in classes]
                                                           for r in expected], atol=TOLERANCE, rtol=0)
    assert got["amount_prediction"].dtype == np.float64  # raw units, the target's standardize undone
    amount = float(load_trained(runs["mixed"]).outputs[1].pipeline.steps[0].scale)  # amount units per model unit
    np.testing.assert_allclose(got["amount_prediction"][:, 0], [float(r["amount_prediction"]) for r in expected],
                               atol=TOLERANCE * amount, rtol=0)


def test_metadata_names_the_run_and_the_batch_is_dynamic(runs, tmp_path):
    trained = load_trained(runs["iris"])
    info = export_onnx(runs["iris"], tmp_path / "iris.onnx", checkpoint="last")
    model = onnx.load(tmp_path / "iris.onnx")
    meta = {p.key: p.value for p in model.metadata_props}
    last = load_trained(runs["iris"], "last").checkpoint
    assert meta["nntrain_version"] == __version__ and model.producer_name == "nntrain"
    assert meta["source_run"] == str(runs["iris"]) == info["source_run"]
    assert meta["checkpoint_which"] == "last" and meta["checkpoint_epoch"] == str(last.epoch) == "1"
    assert json.loads(meta["classes.output"]) == ["setosa", "versicolor", "virginica"] == trained.outputs[0].classes
    assert [o.version for o in model.opset_import] == [19] and info["opset"] == 19
    assert [(o["name"], o["dtype"], o["shape"]) for o in info["outputs"]] == [
        ("prediction", "string", ["batch"]), ("probabilities", "float32", ["batch", 3])]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = ort.InferenceSession(tmp_path / "iris.onnx")
    for n in (1, 7):  # any batch size, one row included
        label, probs = session.run(None, {"input": np.full((n, 4), 5.0, np.float32)})
        assert label.shape == (n,) and probs.shape == (n, 3)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


def test_what_has_no_onnx_form_is_named(runs, tmp_path, monkeypatch):
    from nntrain.data.steps import Step
    from nntrain.engine.activations import Activation

    class Mish(Activation):
        registered_name = "mish"

    trained = load_trained(runs["iris"])
    trained.model.get_layer("dense").activation = Mish()
    with pytest.raises(ConfigError, match=r"layer `dense`: activation 'mish' has no ONNX form; exportable"):
        export_onnx(trained, tmp_path / "x.onnx")

    class Clip(Step):
        registered_name = "clip"

    trained = load_trained(runs["iris"])
    trained.preprocessor.inputs["input"].steps.append(Clip())
    with pytest.raises(ConfigError, match=r"input 'input': preprocessing step 'clip' has no ONNX form; export the "
                                          r"network alone \(--no-preprocessing; preprocessing=False in Python\)"):
        export_onnx(trained, tmp_path / "x.onnx")
    export_onnx(trained, tmp_path / "x.onnx", preprocessing=False)  # the network alone still exports
    assert not list(tmp_path.glob(".*tmp"))

    monkeypatch.setitem(__import__("sys").modules, "onnx", None)
    with pytest.raises(ExportError, match=r"needs the onnx package.*pip install 'nntrain\[onnx\]'"):
        export_onnx(trained, tmp_path / "y.onnx")
    assert not (tmp_path / "y.onnx").exists()


def test_the_readme_example_runs(runs, monkeypatch, capsys):
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Export to ONNX\n", 1)[1].split("\n## ")[0]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    monkeypatch.chdir(runs["iris"].parent.parent)  # the folder holding runs/iris
    namespace: dict = {}
    exec(code[0], namespace)
    assert "('input', 'float32', ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'])" in capsys.readouterr().out
    assert namespace["prediction"].shape == (2,) and set(namespace["prediction"]) <= {"setosa", "versicolor", "virginica"}
    np.testing.assert_allclose(namespace["probabilities"].sum(axis=1), 1.0, rtol=1e-6)


def test_wide_and_deep_inputs_and_outputs_by_name(runs, tmp_path):
    info = export_onnx(runs["wide_deep_aux"], tmp_path / "wd.onnx")
    assert [(i["name"], i["dtype"], i["shape"], i["x_columns"]) for i in info["inputs"]] == [
        ("wide", "float32", ["batch", 5], [0, 1, 2, 3, 4]), ("deep", "float32", ["batch", 6], [2, 3, 4, 5, 6, 7])]
    assert [(o["name"], o["dtype"], o["shape"]) for o in info["outputs"]] == [
        ("main_prediction", "float64", ["batch", 1]), ("aux_prediction", "float64", ["batch", 1])]
    plain = export_onnx(runs["wide_deep_aux"], tmp_path / "plain.onnx", preprocessing=False)
    assert [i["name"] for i in plain["inputs"]] == ["wide", "deep"]
    assert [(o["name"], o["dtype"]) for o in plain["outputs"]] == [("main", "float32"), ("aux", "float32")]


@pytest.mark.parametrize("case", ["softmax logits", "sigmoid logits", "multilabel"])
def test_logits_and_label_sets_decode_as_nntrain_decodes(runs, tmp_path, case):
    """Outputs the example configs do not have, made by editing a loaded run: a from_logits loss (the model emits
    logits; softmax / sigmoid are applied after it) and a multilabel output (labels on over 0.5)."""
    from nntrain.engine.activations import get_activation
    from nntrain.runs.trained import compile_from_config

    trained = load_trained(runs["xor" if case == "sigmoid logits" else "iris"])
    model = trained.model
    if case == "multilabel":  # one sigmoid per label
        trained.preprocessor.outputs["output"].encoder.task = "multilabel"
        model.get_layer(model.output_names[0]).activation = get_activation("sigmoid")
    else:
        model.get_layer(model.output_names[0]).activation = get_activation("linear")
        trained.config["loss"] = {**trained.config["loss"], "from_logits": True}  # the resolved config's mapping
    compile_from_config(model, trained.config, trained.checkpoint_path)  # as a run trained so would be loaded
    x = np.random.default_rng(0).normal(size=(50, model.inputs[0].shape[0])).astype(np.float32) * 3
    d = decode(trained.outputs[0], model.predict_on_batch([x])[0])
    assert len(np.unique(d.on if case == "multilabel" else d.index)) > 1  # answers differ: the check below can fail
    export_onnx(trained, tmp_path / "m.onnx", preprocessing=False)  # the network alone, fed the model inputs
    export_onnx(trained, tmp_path / "f.onnx")
    plain = ort.InferenceSession(tmp_path / "m.onnx").run(None, {model.input_names[0]: x})[0]
    steps = trained.preprocessor.inputs["input"].steps
    raw = steps[0].inverse_transform(x) if steps else x  # iris is standardized: the raw values that give x
    prediction, probs = ort.InferenceSession(tmp_path / "f.onnx").run(None, {"input": raw.astype(np.float32)})
    np.testing.assert_allclose(probs, d.probs, atol=TOLERANCE, rtol=0)
    if case == "multilabel":
        np.testing.assert_array_equal(prediction, d.on)
    else:
        assert np.abs(plain - model.predict_on_batch([x])[0]).max() <= TOLERANCE  # logits stay logits there
        assert list(prediction) == [trained.outputs[0].classes[i] for i in d.index]


def test_an_unwritable_path_is_a_storage_error(runs, tmp_path):
    from nntrain.errors import StorageError

    with pytest.raises(StorageError, match=r"cannot write .*no/such/folder/m\.onnx"):
        export_onnx(runs["iris"], tmp_path / "no" / "such" / "folder" / "m.onnx")


def test_nntrain_export_writes_the_onnx_model(runs, tmp_path):
    result = invoke("export", runs["wine"], "--format", "onnx", "-o", tmp_path / "wine.onnx")
    assert result.returncode == 0, result.stderr
    epoch = load_trained(runs["wine"]).checkpoint.epoch
    assert result.stdout.splitlines() == [  # what was written, from which checkpoint, and what it takes in
        f"exported {runs['wine']} (best, epoch {epoch})",
        f"  {tmp_path / 'wine.onnx'}  (ONNX opset 19, raw values in: the preprocessing folded in)"]
    assert [i.name for i in ort.InferenceSession(tmp_path / "wine.onnx").get_outputs()] == ["prediction",
                                                                                           "probabilities"]
    result = invoke("export", runs["wine"], "--no-preprocessing", "-o", tmp_path / "plain.onnx", "--json")
    assert result.returncode == 0, result.stderr
    written = json.loads(result.stdout)
    assert (written["file"], written["epoch"], written["preprocessing_folded"]) == (str(tmp_path / "plain.onnx"),
                                                                                     epoch, False)
    outputs = ort.InferenceSession(tmp_path / "plain.onnx").get_outputs()
    assert [(o.name, o.shape) for o in outputs] == [(load_trained(runs["wine"]).model.output_names[0], ["batch", 3])]
