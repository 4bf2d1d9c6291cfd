"""nntrain as a user runs it: the Trainer with validation every epoch, the metric, the default terminate_on_nan
callback and the progress display in line mode (written to a null stream)."""

from __future__ import annotations

import os
import time

import nntrain
from nntrain.engine.layers import Concatenate, Conv2D, Dense, Flatten, Input, MaxPooling2D
from nntrain.engine.model import Model, Node, Sequential
from nntrain.engine.sparse import MultiHot
from nntrain.training.callbacks import Callback, TerminateOnNaN
from nntrain.training.loop import Trainer
from nntrain.training.progress import ProgressDisplay

LOSS = {"sparse_cce": "sparse_categorical_crossentropy", "cce": "categorical_crossentropy",
        "bce": "binary_crossentropy", "mse": "mse"}
METRIC = {"sparse_cce": "accuracy", "cce": "accuracy", "bce": "accuracy", "mse": "mae"}


def available() -> str | None:
    return getattr(nntrain, "__version__", "0.1.0")


class EpochClock(Callback):
    """Wall time of each whole epoch: training, validation and every other callback's epoch-end work."""

    def __init__(self):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs):
        self.seconds.append(time.perf_counter() - self._t0)


def build(w):
    if w.task == "wide_deep":
        wide, deep = Input(shape=[5], name="wide"), Input(shape=[6], name="deep")
        nodes = [Node(Dense(30, "relu", name="hidden1"), ["deep"]),
                 Node(Dense(30, "relu", name="hidden2"), ["hidden1"]),
                 Node(Concatenate(name="concat"), ["wide", "hidden2"]),
                 Node(Dense(1, name="main"), ["concat"]),
                 Node(Dense(1, name="aux"), ["hidden2"])]
        model = Model([wide, deep], nodes, ["main", "aux"], seed=0)
        model.compile({"main": "mse", "aux": "mse"}, {"name": w.optimizer[0], "learning_rate": w.optimizer[1]},
                      metrics={"main": ["mae"]}, loss_weights={"main": 0.9, "aux": 0.1})
        return model
    out_act = {"sparse_cce": "softmax", "cce": "softmax", "bce": "sigmoid", "mse": "linear"}[w.task]
    if w.image:
        convs = [layer for f in w.hidden for layer in (Conv2D(f, 3, activation="relu"), MaxPooling2D(2))]
        layers = [Input(shape=list(w.image)), *convs, Flatten(), Dense(w.outputs, out_act)]
    else:
        layers = [Input(shape=[w.input_width])] + [Dense(u, "relu") for u in w.hidden] + [Dense(w.outputs, out_act)]
    model = Sequential(layers, seed=0)
    model.compile(LOSS[w.task], {"name": w.optimizer[0], "learning_rate": w.optimizer[1]}, metrics=[METRIC[w.task]])
    return model


def _x(w, x):
    if w.multi_hot:
        return MultiHot(x["indptr"], x["indices"], w.input_width)
    return x


def train(w, data, epochs: int) -> dict:
    model = build(w)
    x, y = _x(w, data["train"]["x"]), data["train"]["y"]
    vx, vy = _x(w, data["val"]["x"]), data["val"]["y"]
    if w.task == "wide_deep":
        y, vy = {"main": y, "aux": y}, {"main": vy, "aux": vy}
    clock = EpochClock()
    with open(os.devnull, "w") as null:
        callbacks = [ProgressDisplay("line", stream=null), TerminateOnNaN(), clock]
        trainer = Trainer(model, x, y, epochs=epochs, batch_size=w.batch_size, validation_data=(vx, vy),
                          callbacks=callbacks, seed=0)
        history = trainer.run()
    final = {k: v[-1] for k, v in history.history.items() if k not in ("seconds", "learning_rate")}
    return {"epoch_seconds": clock.seconds, "final": final}
