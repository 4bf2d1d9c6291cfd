"""The Keras 3 values tests/test_metrics_keras.py holds as KERAS, printed by Keras itself for the same inputs.

    python -m venv /tmp/keras && /tmp/keras/bin/pip install torch keras
    KERAS_BACKEND=torch /tmp/keras/bin/python benchmarks/keras_metrics.py

Only NumPy is imported at module level: the test reads its inputs (`data`, `BATCHES`, `MULTI_LABEL_*`) from here.
"""

from __future__ import annotations

import os

import numpy as np

BATCHES = (7, 16, 37)  # uneven, as a training loop with a short last batch feeds them
MULTI_LABEL_Y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]], np.float32)
MULTI_LABEL_P = np.array([[0.9, 0.2, 0.4], [0.6, 0.7, 0.1], [0.3, 0.8, 0.6]], np.float32)


def data(n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(labels, predictions, grid, weights), each (n,): predictions on the 200-threshold grid (i/199, float32) with
    every 7th exactly float32(0.3), the grid alone, 0/1 labels, weights in [0.5, 2]."""
    i = np.arange(n)
    grid = (((i * 37) % 200) / 199).astype(np.float32)
    p = grid.copy()
    p[::7] = np.float32(0.3)
    y = ((i * 7) % 3 == 0).astype(np.float32)
    y[::11] = 1.0
    w = (0.5 + ((i * 13) % 7) / 4).astype(np.float32)
    return y, p, grid, w


def feed(update, y, p, w=None) -> None:
    """Call `update(y_true, y_pred, sample_weight)` batch by batch over BATCHES; y_true, y_pred (batch, 1)."""
    start = 0
    for size in BATCHES:
        part = slice(start, start + size)
        update(y[part, None], p[part, None], None if w is None else w[part])
        start += size


def _streamed(metric, y, p, w=None) -> float:
    feed(metric.update_state, y, p, w)
    return float(metric.result())


def main() -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    y, p, grid, w = data()
    values = {}
    for name, cls in (("precision", keras.metrics.Precision), ("recall", keras.metrics.Recall)):
        for weighted in (False, True):
            values[name, weighted] = _streamed(cls(thresholds=0.3), y, p, w if weighted else None)
    for curve in ("ROC", "PR"):
        for summation in ("interpolation", "minoring", "majoring"):
            for weighted in (True, False):
                auc = keras.metrics.AUC(curve=curve, summation_method=summation, num_thresholds=200 if weighted else 7)
                values[curve, summation, weighted] = _streamed(auc, y, grid, w if weighted else None)
    print(f"keras {keras.__version__}")
    print("KERAS = {")
    for key, value in values.items():
        print(f"    {key!r}: {value!r},")
    print("}")
    tie = keras.metrics.AUC()(np.array([[1.0], [0.0]]), np.array([[142 / 199], [143 / 199]], np.float32))
    soft = keras.metrics.AUC()(np.array([[0.2], [1.0], [0.0]]), np.array([[0.5], [0.9], [0.1]], np.float32))
    print("AUC, y [1, 0], p float32 [142/199, 143/199]:", float(tie))
    print("AUC, soft labels y [0.2, 1, 0], p [0.5, 0.9, 0.1]:", float(soft))
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Activation("linear")(inputs))
    model.compile(loss="binary_crossentropy", metrics=["accuracy"])
    accuracy = model.evaluate(MULTI_LABEL_P, MULTI_LABEL_Y, verbose=0, return_dict=True)["accuracy"]
    print("accuracy with binary_crossentropy, 3-wide multi-label output:", accuracy)
    for predicted in (3.0, 3.5):
        r2 = keras.metrics.R2Score()
        r2.update_state(np.full((4, 1), 3.0, np.float32), np.full((4, 1), predicted, np.float32))
        print(f"R2 of a constant target 3.0 predicted as {predicted}:", float(r2.result()))


if __name__ == "__main__":
    main()
