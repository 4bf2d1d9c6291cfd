"""Keras 3 `model.fit`, verbose=0, on the first installed backend of tensorflow, jax and torch (KERAS_BACKEND, when
set, wins). Multi-hot inputs are given as the dense float32 matrix, as in the Keras textbook."""

from __future__ import annotations

import importlib.util
import os
import time


def _backend() -> str | None:
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    for name in ("tensorflow", "jax", "torch"):
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def available() -> str | None:
    if importlib.util.find_spec("keras") is None or _backend() is None:
        return None
    os.environ.setdefault("KERAS_BACKEND", _backend())
    import keras

    return f"{keras.__version__} ({keras.backend.backend()})"


LOSS = {"sparse_cce": "sparse_categorical_crossentropy", "cce": "categorical_crossentropy",
        "bce": "binary_crossentropy", "mse": "mse"}
METRIC = {"sparse_cce": "accuracy", "cce": "accuracy", "bce": "accuracy", "mse": "mae"}


def _build(keras, w):
    name, lr = w.optimizer
    opt = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}.get(name, keras.optimizers.RMSprop)(lr)
    layers = keras.layers
    if w.image:
        convs = [layer for f in w.hidden for layer in (layers.Conv2D(f, 3, activation="relu"), layers.MaxPooling2D(2))]
        model = keras.Sequential([keras.Input(w.image), *convs, layers.Flatten(),
                                  layers.Dense(w.outputs, activation="softmax")])
        model.compile(optimizer=opt, loss=LOSS[w.task], metrics=[METRIC[w.task]])
        return model
    if w.task == "wide_deep":
        wide, deep = keras.Input((5,), name="wide"), keras.Input((6,), name="deep")
        h = layers.Dense(30, activation="relu")(deep)
        h = layers.Dense(30, activation="relu")(h)
        main = layers.Dense(1, name="main")(layers.Concatenate()([wide, h]))
        aux = layers.Dense(1, name="aux")(h)
        model = keras.Model([wide, deep], [main, aux])
        model.compile(optimizer=opt, loss=["mse", "mse"], loss_weights=[0.9, 0.1], metrics=[["mae"], []])
        return model
    out_act = {"sparse_cce": "softmax", "cce": "softmax", "bce": "sigmoid", "mse": None}[w.task]
    model = keras.Sequential([keras.Input((w.input_width,))] + [layers.Dense(u, activation="relu") for u in w.hidden]
                             + [layers.Dense(w.outputs, activation=out_act)])
    model.compile(optimizer=opt, loss=LOSS[w.task], metrics=[METRIC[w.task]])
    return model


def train(w, data, epochs: int) -> dict:
    os.environ.setdefault("KERAS_BACKEND", _backend())
    import keras

    keras.utils.set_random_seed(0)
    model = _build(keras, w)

    def arrays(split):
        x, y = data[split]["x"], data[split]["y"]
        if w.multi_hot:
            x = x["dense"]
        elif w.task == "wide_deep":
            x, y = [x["wide"], x["deep"]], [y, y]
        return x, y

    x, y = arrays("train")
    vx, vy = arrays("val")

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._t0)

    clock = Clock()
    history = model.fit(x, y, batch_size=w.batch_size, epochs=epochs, validation_data=(vx, vy), shuffle=True,
                        verbose=0, callbacks=[clock])
    final = {k: float(v[-1]) for k, v in history.history.items()}
    return {"epoch_seconds": clock.seconds, "final": final}
