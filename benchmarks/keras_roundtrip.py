"""Every example config through real Keras 3 and back; the figures of README "Export to Keras".

    python benchmarks/keras_roundtrip.py [--keras-python /work/venv-keras/bin/python] [--out DIR]

nntrain side (this interpreter): configs on bundled or local data train 3 epochs (`nntrain.fit`) and export
(`Run.export`, .keras and legacy .h5); for those, 64 raw rows of the table go along, so the Keras side also checks
that the preprocessing JSON alone reproduces nntrain's inputs. Configs on Keras-catalogue data (a download these machines cannot make) are
built from the config (`nntrain check`'s model), trained 2 epochs on random inputs of the model's shape (multi-hot
0/1 rows for the text configs, word ids padded in front for an Embedding), and exported; so are the models of EXTRA
(convolution, pooling, LayerNormalization, masked SimpleRNN / Bidirectional LSTM / GRU, Conv1D + Bidirectional GRU).
The Keras side (benchmarks/keras_side.py, in an interpreter with Keras and without nntrain) loads each file with
keras.models.load_model and predicts, then changes every weight and saves .keras and legacy .h5 files, which nntrain
reads back here (`nntrain import`'s engine model) and predicts.
Writes DIR/keras_roundtrip.json (default benchmarks/results/) and prints a table.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nntrain  # noqa: E402
from nntrain.data.memory import raw_inputs  # noqa: E402
from nntrain.interop.keras_read import engine_model, read_keras  # noqa: E402
from nntrain.interop.keras_write import write_h5, write_keras  # noqa: E402

ROWS = 64
# the convolutional and recurrent layers on the catalogue's shapes, beside the example configs (random inputs)
EXTRA = {
    "fashion_convnet": """
name: fashion_convnet
data: {dataset: fashion_mnist, preprocessing: [{rescale: {scale: 0.00392156862745098}}]}
model:
  layers:
    - Reshape: {target_shape: [28, 28, 1]}
    - ZeroPadding2D: {padding: 1}
    - Conv2D: {filters: 8, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D: {}
    - SpatialDropout2D: {rate: 0.1}
    - Conv2D: {filters: 8, kernel_size: 3, strides: 2}
    - AveragePooling2D: {pool_size: 2, padding: same}
    - UpSampling2D: {size: 2}
    - LayerNormalization: {}
    - GlobalMaxPooling2D: {}
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: adam
""",
    "imdb_bidirectional": """
name: imdb_bidirectional
data: {dataset: imdb, options: {num_words: 1000}, preprocessing: [{pad_sequences: {maxlen: 30}}]}
model:
  layers:
    - Embedding: {input_dim: 1000, output_dim: 8, mask_zero: true}
    - SimpleRNN: {units: 6, return_sequences: true}
    - Bidirectional: {layer: {type: LSTM, units: 4, return_sequences: true}}
    - GRU: {units: 4, return_sequences: true}
    - GlobalAveragePooling1D: {}
    - Dense: {units: 1, activation: sigmoid}
loss: binary_crossentropy
optimizer: adam
""",
    "reuters_conv1d": """
name: reuters_conv1d
data: {dataset: reuters, options: {num_words: 1000}, preprocessing: [{pad_sequences: {maxlen: 40}}]}
model:
  layers:
    - Embedding: {input_dim: 1000, output_dim: 8}
    - Conv1D: {filters: 8, kernel_size: 3, padding: causal, activation: relu}
    - SpatialDropout1D: {rate: 0.1}
    - MaxPooling1D: {}
    - Bidirectional: {layer: {type: GRU, units: 4}, merge_mode: sum}
    - Dense: {units: 46, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: adam
""",
}


def _raw_table(config: dict, columns: list[str]) -> np.ndarray:
    """The first ROWS rows of the config's table (bundled dataset or own CSV), the model's feature columns."""
    data = config["data"]
    path = ROOT / "datasets" / f"{data['dataset']}.csv.gz" if "dataset" in data else Path(data["train"])
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fp:
        rows = list(csv.DictReader(fp))[:ROWS]
    return np.array([[float(r[c]) for c in columns] for r in rows])


def bundled(config_path: Path, work: Path) -> None:
    name = config_path.stem
    run = nntrain.fit(config_path, overrides={"training.epochs": 3}, name=name, runs_dir=work / "runs",
                      progress="none")
    run.export(work / f"{name}.keras")
    run.export(work / f"{name}.h5")
    pre = run.trained.preprocessor
    (inp,) = pre.inputs.values()
    raw = _raw_table(run.config, list(inp.source["columns"]))
    x = pre.transform_x(raw_inputs(pre, raw))
    outs = run.model.predict_on_batch([x])
    np.savez(work / f"{name}.npz", x_0=x, raw=raw, **{f"y_{i}": o for i, o in enumerate(outs)})


def _targets(model, rng, n: int) -> list:
    ys = []
    for name, loss in zip(model.output_names, model.losses):
        width = int(np.prod(model.shapes[name]))
        kind = loss.registered_name
        if kind.startswith("sparse"):
            ys.append(rng.integers(0, width, n))
        elif kind.startswith("categorical"):
            ys.append(np.eye(width, dtype=np.float32)[rng.integers(0, width, n)])
        elif kind.startswith("binary"):
            ys.append(rng.integers(0, 2, (n, width)).astype(np.float32))
        else:
            ys.append(rng.normal(size=(n, *model.shapes[name])).astype(np.float32))
    return ys


def _random_input(rng, model, inp, n: int) -> np.ndarray:
    """Multi-hot 0/1 rows, word ids padded with zeros in front (pad_sequences) for an Embedding, or uniform values."""
    if inp.sparse:
        return (rng.random((n, *inp.shape)) < 0.05).astype(np.float32)
    readers = [node.layer for node in model.nodes if node.inbound == [inp.name]]
    if readers and type(readers[0]).registered_name == "Embedding":
        ids = rng.integers(1, readers[0].input_dim, (n, *inp.shape))
        for row, start in zip(ids, rng.integers(0, inp.shape[-1], n)):
            row[:start] = 0
        return ids.astype(np.float32 if inp.input_dtype.startswith("float") else inp.input_dtype)
    return rng.random((n, *inp.shape), dtype=np.float32)


def catalogue(config_path: Path, work: Path) -> None:
    from nntrain.commands.prepare import check
    from nntrain.training.loop import fit

    name = config_path.stem
    _, model = check(config_path)
    rng = np.random.default_rng(0)
    n = 4 * ROWS
    xs = [_random_input(rng, model, i, n) for i in model.inputs]
    ys = _targets(model, rng, n)
    fit(model, dict(zip(model.input_names, xs)), dict(zip(model.output_names, ys)), epochs=2, batch_size=32)
    source = {"nntrain_version": nntrain.__version__, "source_run": str(config_path), "checkpoint": "in memory",
              "epoch": 2}
    write_keras(work / f"{name}.keras", model, source)
    write_h5(work / f"{name}.h5", model, source)
    xs = [x[:ROWS] for x in xs]
    outs = model.predict_on_batch(xs)
    np.savez(work / f"{name}.npz", **{f"x_{i}": x for i, x in enumerate(xs)},
             **{f"y_{i}": o for i, o in enumerate(outs)})


def back(work: Path, name: str) -> dict:
    """Keras's saves read by nntrain: max |nntrain - Keras| for the .keras and the legacy .h5 file."""
    data, keras_outs = np.load(work / f"{name}.npz"), np.load(work / f"{name}.back.npz")
    xs = [data[f"x_{i}"] for i in range(sum(k.startswith("x_") for k in data.files))]
    result = {}
    for suffix in ("keras", "h5"):
        outs = engine_model(read_keras(work / f"{name}.back.{suffix}")).predict_on_batch(xs)
        result[f"back_{suffix}_max_abs_diff"] = max(float(np.abs(o - keras_outs[f"y_{i}"]).max())
                                                    for i, o in enumerate(outs))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keras-python", default="/work/venv-keras/bin/python")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="keras-roundtrip-"))
    kinds = {}
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        text = path.read_text()
        local = any(f"dataset: {d}" in text for d in ("iris", "wine", "breast_cancer", "digits", "boston_housing"))
        local = local or "dataset:" not in text
        (bundled if local else catalogue)(path, work)
        kinds[path.stem] = "trained 3 epochs on its data" if local else "trained 2 epochs on random inputs"
        print("exported", path.stem, flush=True)
    for name, text in EXTRA.items():
        (work / f"{name}.yaml").write_text(text)
        catalogue(work / f"{name}.yaml", work)
        kinds[name] = "trained 2 epochs on random inputs"
        print("exported", name, flush=True)
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "torch")}
    env.pop("PYTHONPATH", None)  # the Keras side runs without nntrain
    subprocess.run([args.keras_python, str(ROOT / "benchmarks" / "keras_side.py"), str(work)], check=True, env=env,
                   cwd=work)
    side = json.loads((work / "keras_side.json").read_text())
    for name, result in side["models"].items():
        result.update(back(work, name), data=kinds[name])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "keras_roundtrip.json").write_text(json.dumps(side, indent=1))
    print(f"\nKeras {side['keras_version']} ({side['backend']} backend)\n")
    print("| config | data | nntrain -> Keras .keras | nntrain -> Keras .h5 | served from raw rows | "
          "Keras .keras -> nntrain | Keras .h5 -> nntrain |")
    print("|---|---|---|---|---|---|---|")
    for name, r in side["models"].items():
        served = f"{r['served_max_abs_diff']:.1e}" if "served_max_abs_diff" in r else "-"
        print(f"| {name} | {r['data']} | {r['max_abs_diff']:.1e} | {r['h5_max_abs_diff']:.1e} | {served} | "
              f"{r['back_keras_max_abs_diff']:.1e} | {r['back_h5_max_abs_diff']:.1e} |")


if __name__ == "__main__":
    main()
