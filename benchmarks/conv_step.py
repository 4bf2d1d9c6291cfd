"""CPU time of one training step of W7's convnet (batch 64 of 28x28x1 images, Adam), nntrain against PyTorch eager,
alternating in one process, one thread each. CPU time rather than wall time: on a machine shared with other work,
wall time measures the load as much as the framework (see NOTES.md, "Issue 15").

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/conv_step.py [--rounds 5] [--steps 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.frameworks import nntrain_impl, torch_impl  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402


def _cpu_ms(step, steps: int) -> float:
    for _ in range(3):
        step()
    start = time.process_time()
    for _ in range(steps):
        step()
    return (time.process_time() - start) / steps * 1e3


def nntrain_step(w, x, y):
    model = nntrain_impl.build(w)
    tracker = model.new_tracker()
    return lambda: model.train_on_batch([x], [y], None, tracker)


def torch_step(w, x, y):
    import torch

    torch.manual_seed(0)
    model = torch_impl._cnn(torch.nn, w)
    opt = torch_impl._optimizer(torch, w, model.parameters())
    xt, yt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(model(xt), yt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    w = WORKLOADS["W7"]
    rng = np.random.default_rng(0)
    x = rng.random((w.batch_size, *w.image), dtype=np.float32)
    y = rng.integers(0, w.outputs, w.batch_size)
    times = {"nntrain": [], "torch": []}
    for _ in range(args.rounds):
        times["nntrain"].append(_cpu_ms(nntrain_step(w, x, y), args.steps))
        times["torch"].append(_cpu_ms(torch_step(w, x, y), args.steps))
    for name, ms in times.items():
        print(f"{name}: CPU ms per step min {min(ms):.1f}, median {statistics.median(ms):.1f}")
    print(f"nntrain / torch (medians): {statistics.median(times['nntrain']) / statistics.median(times['torch']):.2f}")


if __name__ == "__main__":
    main()
