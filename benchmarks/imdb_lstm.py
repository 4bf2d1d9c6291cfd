"""Embedding 10,000 x 32 -> LSTM 32 -> Dense 1 sigmoid on IMDB-shaped sequences (Chollet ch. 6): nntrain against
PyTorch eager (float32, nn.LSTM) and Keras 3 where they are installed, one framework per process.

The data: 25,000 reviews of word ids in [1, 10,000), lengths drawn like IMDB's (median ~175 words, a long tail),
padded and truncated at the front to 200 steps as Keras's pad_sequences does; 0/1 labels. Batch 128, RMSprop
(Keras's rho and epsilon), binary cross-entropy with accuracy, no validation. nntrain masks the padding
(Embedding mask_zero=True, as the textbook model does; `--no-mask` to run every step); PyTorch's nn.LSTM runs every
step of the padded batch (the usual PyTorch tutorial loop; packing pre-padded rows would need a copy per batch).

    python benchmarks/imdb_lstm.py --framework nntrain [--epochs 3] [--rows 25000] [--no-mask]
    /work/venv-bench/bin/python benchmarks/imdb_lstm.py --framework torch

Prints one JSON line: framework, version, threads, epoch seconds (wall and CPU), the final loss and accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

VOCAB, STEPS, WIDTH, UNITS, BATCH = 10_000, 200, 32, 32, 128


def make_data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows, 200) int32 ids, zeros in front of short reviews, and (rows, 1) float32 labels."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(175), 0.7, rows).astype(np.int64), 10, 2_500)
    x = np.zeros((rows, STEPS), np.int32)
    for i, n in enumerate(np.minimum(lengths, STEPS)):
        x[i, STEPS - n:] = rng.integers(1, VOCAB, n)
    y = rng.integers(0, 2, (rows, 1)).astype(np.float32)
    return x, y


def run_nntrain(x, y, epochs: int, mask: bool) -> dict:
    import nntrain
    from nntrain.engine.layers import LSTM, Dense, Embedding, Input
    from nntrain.engine.model import Sequential
    from nntrain.training.callbacks import Callback
    from nntrain.training.loop import Trainer

    class Clock(Callback):
        def __init__(self):
            self.wall, self.cpu = [], []

        def on_epoch_begin(self, epoch):
            self._t = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch, logs):
            self.wall.append(time.perf_counter() - self._t[0])
            self.cpu.append(time.process_time() - self._t[1])

    model = Sequential([Input([STEPS], dtype="int32"), Embedding(VOCAB, WIDTH, mask_zero=mask), LSTM(UNITS),
                        Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", {"name": "rmsprop", "learning_rate": 0.001}, metrics=["accuracy"])
    clock = Clock()
    history = Trainer(model, x, y, epochs=epochs, batch_size=BATCH, callbacks=[clock], seed=0).run()
    return {"version": getattr(nntrain, "__version__", "?"), "wall": clock.wall, "cpu": clock.cpu,
            "loss": history.history["loss"][-1], "accuracy": history.history["accuracy"][-1]}


def run_torch(x, y, epochs: int) -> dict:
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, WIDTH)
            self.lstm = nn.LSTM(WIDTH, UNITS, batch_first=True)
            self.out = nn.Linear(UNITS, 1)

        def forward(self, ids):
            _, (h, _) = self.lstm(self.embedding(ids))
            return self.out(h[-1])

    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.RMSprop(net.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
    lossf = nn.BCEWithLogitsLoss()
    tx, ty = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y)
    wall, cpu = [], []
    for _ in range(epochs):
        t = (time.perf_counter(), time.process_time())
        order = torch.randperm(len(tx))
        total, correct = torch.zeros(()), torch.zeros(())
        for start in range(0, len(tx), BATCH):
            idx = order[start:start + BATCH]
            logits = net(tx[idx])
            loss = lossf(logits, ty[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                total += loss.detach() * len(idx)
                correct += ((logits > 0).float() == ty[idx]).sum()
        wall.append(time.perf_counter() - t[0])
        cpu.append(time.process_time() - t[1])
    return {"version": torch.__version__, "threads": torch.get_num_threads(), "wall": wall, "cpu": cpu,
            "loss": float(total) / len(tx), "accuracy": float(correct) / len(tx)}


def run_keras(x, y, epochs: int) -> dict:
    import keras

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.wall, self.cpu = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self._t = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch, logs=None):
            self.wall.append(time.perf_counter() - self._t[0])
            self.cpu.append(time.process_time() - self._t[1])

    layers = keras.layers
    model = keras.Sequential([keras.Input((STEPS,), dtype="int32"), layers.Embedding(VOCAB, WIDTH, mask_zero=True),
                              layers.LSTM(UNITS), layers.Dense(1, activation="sigmoid")])
    model.compile("rmsprop", "binary_crossentropy", metrics=["accuracy"])
    clock = Clock()
    h = model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[clock])
    return {"version": keras.__version__, "backend": keras.backend.backend(), "wall": clock.wall, "cpu": clock.cpu,
            "loss": h.history["loss"][-1], "accuracy": h.history["accuracy"][-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", choices=["nntrain", "torch", "keras"], default="nntrain")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--no-mask", action="store_true", help="nntrain: Embedding without mask_zero")
    args = parser.parse_args()
    x, y = make_data(args.rows)
    if args.framework == "nntrain":
        result = run_nntrain(x, y, args.epochs, mask=not args.no_mask)
        result["mask"] = not args.no_mask
    else:
        result = (run_torch if args.framework == "torch" else run_keras)(x, y, args.epochs)
    result.update(framework=args.framework, rows=args.rows, load=os.getloadavg()[0],
                  openblas_threads=os.environ.get("OPENBLAS_NUM_THREADS", "default"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
