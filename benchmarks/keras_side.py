"""The Keras half of benchmarks/keras_roundtrip.py, run by a Python that has Keras 3 and NOT nntrain:

    KERAS_BACKEND=torch /work/venv-keras/bin/python benchmarks/keras_side.py WORK_DIR

For every NAME.keras (and NAME.h5) that nntrain exported into WORK_DIR (with NAME.npz: the model inputs, nntrain's outputs, and
for table data the raw rows and nntrain's preprocessed inputs):
1. keras.models.load_model(NAME.keras) and (NAME.h5), predict the inputs: max |Keras - nntrain| over the outputs;
2. where raw rows are given, preprocess them with NAME.preprocessing.json alone, as the README shows: max |recipe -
   nntrain's preprocessed inputs|, and max |Keras(recipe inputs) - nntrain| (the whole served path);
3. the reverse: Keras changes every weight, saves NAME.back.keras and NAME.back.h5, and write
   Keras's predictions into NAME.back.npz for nntrain to compare.
Writes WORK_DIR/keras_side.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import keras
import numpy as np


def preprocess(raw: np.ndarray, pre: dict) -> np.ndarray:
    """The README's recipe: numeric columns in the stored order, then each step's stored values."""
    (name, inp), = pre["preprocessor"]["inputs"].items()
    x = raw.astype(np.float32)
    for step in inp["steps"]:
        s = step["state"]
        if step["name"] in ("standardize", "minmax"):
            x = (x - np.array(s["shift"], np.float32)) / np.array(s["scale"], np.float32)
        elif step["name"] == "rescale":
            x = x * np.float32(step["config"]["scale"]) + np.float32(step["config"].get("offset", 0.0))
        elif step["name"] == "reshape":
            x = x.reshape(len(x), *step["config"]["shape"])
        elif step["name"] == "flatten":
            x = x.reshape(len(x), -1)
        else:
            raise ValueError(f"no recipe for step {step['name']}")
    return x


def check(work: Path, name: str) -> dict:
    model = keras.models.load_model(work / f"{name}.keras")
    data = np.load(work / f"{name}.npz")
    input_names = [t.name for t in model.inputs] if hasattr(model, "inputs") else []
    xs = [data[f"x_{i}"] for i in range(sum(k.startswith("x_") for k in data.files))]
    outs = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    ours = [data[f"y_{i}"] for i in range(len(outs))]
    result = {"inputs": input_names, "max_abs_diff": max(float(np.abs(a - b).max()) for a, b in zip(outs, ours))}
    legacy = keras.models.load_model(work / f"{name}.h5")  # the same model exported as a legacy .h5
    h5_outs = legacy.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    h5_outs = h5_outs if isinstance(h5_outs, list) else [h5_outs]
    result["h5_max_abs_diff"] = max(float(np.abs(a - b).max()) for a, b in zip(h5_outs, ours))
    if "raw" in data.files:
        pre = json.loads((work / f"{name}.preprocessing.json").read_text())
        x = preprocess(data["raw"], pre)
        result["recipe_input_diff"] = float(np.abs(x - xs[0]).max())
        served = model.predict(x, verbose=0)
        result["served_max_abs_diff"] = float(np.abs(served - ours[0]).max())
    # the reverse direction: Keras changes every weight (a moving variance stays positive), saves both formats
    rng = np.random.default_rng(0)
    for w in model.weights:
        value = keras.ops.convert_to_numpy(w)
        w.assign(value * rng.uniform(0.5, 1.5, value.shape) if "variance" in w.path
                 else value + rng.normal(0, 0.05, value.shape))
    model.save(work / f"{name}.back.keras")
    model.save(work / f"{name}.back.h5")
    back = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    back = back if isinstance(back, list) else [back]
    np.savez(work / f"{name}.back.npz", **{f"y_{i}": b for i, b in enumerate(back)})
    result["outputs_moved_by_keras"] = float(max(np.abs(a - b).max() for a, b in zip(back, outs)))
    return result


def main() -> None:
    work = Path(sys.argv[1])
    results = {"keras_version": keras.__version__, "backend": keras.backend.backend(), "models": {}}
    for path in sorted(work.glob("*.keras")):
        if ".back" in path.name:
            continue
        results["models"][path.stem] = check(work, path.stem)
        print(path.stem, results["models"][path.stem], flush=True)
    (work / "keras_side.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
