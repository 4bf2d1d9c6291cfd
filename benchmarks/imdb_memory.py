"""A full IMDB-shaped run in its own process, reporting its peak resident memory and epoch times as one JSON line.

25,000 x 10,000 multi-hot rows (~120 ones each), 16 relu -> 16 relu -> 1 sigmoid, BCE, RMSprop, batch 512, 20
epochs, as the Keras textbook trains it: the first 15,000 rows train, the last 10,000 validate every epoch.

    python benchmarks/imdb_memory.py [--input sparse|dense] [--epochs 20]

With --input dense the same rows are first expanded to a float32 matrix (1 GB): the epoch times then compare the
sparse path with the dense one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from benchmarks.workloads import multi_hot_indices, to_dense  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", choices=("sparse", "dense"), default="sparse")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    from nntrain.engine.layers import Dense, Input
    from nntrain.engine.model import Sequential
    from nntrain.engine.sparse import MultiHot
    from nntrain.training.callbacks import TerminateOnNaN
    from nntrain.training.loop import Trainer
    from nntrain.training.progress import ProgressDisplay

    rows, width, split = 25_000, 10_000, 15_000
    rng = np.random.default_rng(0)
    indptr, indices = multi_hot_indices(rng, rows, width, 120)
    y = rng.integers(0, 2, (rows, 1)).astype(np.float32)
    x = MultiHot(indptr, indices, width)
    if args.input == "dense":
        x = to_dense(indptr, indices, width)
    model = Sequential([Input(shape=[width]), Dense(16, "relu"), Dense(16, "relu"), Dense(1, "sigmoid")], seed=0)
    model.compile("binary_crossentropy", "rmsprop", metrics=["accuracy"])
    times = []

    from nntrain.training.callbacks import Callback

    class Clock(Callback):
        def on_epoch_begin(self, epoch):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs):
            times.append(time.perf_counter() - self.t0)

    with open(os.devnull, "w") as null:
        trainer = Trainer(model, x[:split], y[:split], epochs=args.epochs, batch_size=512,
                          validation_data=(x[split:], y[split:]),
                          callbacks=[ProgressDisplay("line", stream=null), TerminateOnNaN(), Clock()])
        history = trainer.run()
    rusage_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    print(json.dumps({"input": args.input, "epochs": args.epochs, "nnz": int(indptr[-1]),
                      "peak_rss_mb": _high_water_mb() or rusage_mb, "ru_maxrss_mb": rusage_mb,
                      "epoch_seconds": times, "val_accuracy": history.history["val_accuracy"][-1]}))


def _high_water_mb() -> float | None:
    """This process's peak resident memory (VmHWM). On Linux, getrusage's ru_maxrss of a child started by a big
    process (the benchmark runner holds dense copies of W2/W4) starts at the parent's peak, as exec records the
    forked image's; VmHWM belongs to the new image only."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


if __name__ == "__main__":
    main()
