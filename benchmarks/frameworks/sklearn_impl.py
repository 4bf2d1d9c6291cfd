"""scikit-learn's MLPClassifier / MLPRegressor, where it can express the workload (W1 and, roughly, W3).

One `partial_fit` is one epoch of mini-batch updates; the validation set is then scored with `predict`. No L2
penalty (alpha=0), no momentum for sgd. sklearn has no RMSprop: W3 runs with adam, so its figure is indicative only.
"""

from __future__ import annotations

import time

import numpy as np

SUPPORTED = {"W1", "W3"}


def available() -> str | None:
    try:
        import sklearn
    except ImportError:
        return None
    return sklearn.__version__


def train(w, data, epochs: int) -> dict:
    if w.key not in SUPPORTED:
        raise NotImplementedError(f"sklearn's MLP cannot express {w.key}")
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    name, lr = w.optimizer
    common = dict(hidden_layer_sizes=w.hidden, activation="relu", alpha=0.0, batch_size=w.batch_size,
                  learning_rate_init=lr, shuffle=True, random_state=0)
    x, y = data["train"]["x"], data["train"]["y"]
    vx, vy = data["val"]["x"], data["val"]["y"]
    if w.task == "sparse_cce":
        model = MLPClassifier(solver="sgd", momentum=0.0, nesterovs_momentum=False, **common)
        classes = np.arange(w.outputs)
    else:
        model = MLPRegressor(solver="adam" if name == "rmsprop" else name, **common)
        y, vy = y.ravel(), vy.ravel()
    seconds, final = [], {}
    for _ in range(epochs):
        t0 = time.perf_counter()
        if w.task == "sparse_cce":
            model.partial_fit(x, y, classes=classes)
            final = {"loss": float(model.loss_), "val_accuracy": float((model.predict(vx) == vy).mean())}
        else:
            model.partial_fit(x, y)
            final = {"loss": float(model.loss_), "val_mae": float(np.abs(model.predict(vx) - vy).mean())}
        seconds.append(time.perf_counter() - t0)
    return {"epoch_seconds": seconds, "final": final}
