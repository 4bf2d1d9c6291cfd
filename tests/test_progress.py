"""The progress display: a live bar on a terminal (step/steps, samples/s, ETA, running loss), one plain line per
epoch elsewhere, nothing with --progress none."""

from __future__ import annotations

import io
import re

import numpy as np
from rich.console import Console

from nntrain.engine.layers import Dense
from nntrain.engine.model import Sequential
from nntrain.training.loop import Trainer
from nntrain.training.progress import ProgressDisplay


def train(display, epochs=2):
    """Batch size 1 over 300 rows: 300 steps an epoch, each one a redraw of the bar."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 20)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)[:, None]
    model = Sequential([Dense(256, activation="relu"), Dense(1, activation="sigmoid")], input_shape=(20,), seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["accuracy"])
    ProgressDisplay.REFRESH = 0.0  # draw at every check so a short test epoch shows the bar
    try:
        Trainer(model, x, y, epochs=epochs, batch_size=1, validation_data=(x[:100], y[:100]),
                callbacks=[display]).run()
    finally:
        ProgressDisplay.REFRESH = 0.2


def test_bar_on_a_terminal_shows_steps_rate_eta_and_loss():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=200, color_system=None)
    display = ProgressDisplay("bar", console=console, stream=buffer)
    orig = display.on_epoch_begin  # the first redraw normally waits 0.2 s into an epoch: draw at once

    def begin(epoch):
        orig(epoch)
        display._next = display._t0

    display.on_epoch_begin = begin
    train(display)
    out = buffer.getvalue()
    bar = re.compile(r"Epoch 1/2 ━+ +\d+/300 ETA [\d.:]+s? +[\d,]+ samples/s loss: \d")
    assert any(bar.search(line) for line in re.split(r"[\r\n]", out)), out[-2000:]
    assert "\r" in out or "\x1b" in out  # a live display redraws in place
    summaries = re.findall(r"Epoch (\d)/2 - [\d.]+s - loss: [\d.]+ - accuracy: [\d.]+ - val_loss", out)
    assert summaries == ["1", "2"]


def test_line_mode_writes_one_plain_line_per_epoch():
    buffer = io.StringIO()
    train(ProgressDisplay("line", stream=buffer), epochs=3)
    lines = buffer.getvalue().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert "\x1b" not in buffer.getvalue() and "\r" not in buffer.getvalue()


def test_none_mode_writes_nothing():
    buffer = io.StringIO()
    train(ProgressDisplay("none", stream=buffer), epochs=1)
    assert buffer.getvalue() == ""
