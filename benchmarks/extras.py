"""Measurements besides the per-epoch comparison: the GEMM-only bound of W1, CLI start-up, an end-to-end k-fold run,
the IMDB-shaped memory run, and the cost of the live progress bar."""

from __future__ import annotations

import io
import json
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def gemm_bound(w, repeats: int = 5) -> dict:
    """float32 matmul throughput for each product one W1 training step does, and the epoch's matmul time alone.

    Per Dense layer (in -> out) and step: forward x @ W (batch, in) x (in, out); backward dW = x.T @ dz and, for
    every layer but the first (whose input needs no gradient), dx = dz @ W.T. Validation adds forward products only.
    Operands are laid out as the engine has them (x.T and W.T are transposed views), results go to reused buffers.
    """
    rng = np.random.default_rng(0)
    b = w.batch_size
    sizes = (w.input_width, *w.hidden, w.outputs)
    products = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        x = rng.standard_normal((b, n_in), dtype=np.float32)
        k = rng.standard_normal((n_in, n_out), dtype=np.float32)
        dz = rng.standard_normal((b, n_out), dtype=np.float32)
        products.append((f"fwd {b}x{n_in} @ {n_in}x{n_out}", x, k, "fwd"))
        products.append((f"dW {n_in}x{b} @ {b}x{n_out}", x.T, dz, "bwd"))
        if i > 0:
            products.append((f"dx {b}x{n_out} @ {n_out}x{n_in}", dz, k.T, "bwd"))
    rows = []
    train_step = val_step = 0.0
    for label, a, c, kind in products:
        out = np.empty((a.shape[0], c.shape[1]), np.float32)
        n = max(50, int(2e8 / (2 * a.shape[0] * a.shape[1] * c.shape[1])))  # about 0.2 GFLOP per timing
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(n):
                np.matmul(a, c, out=out)
            best = min(best, (time.perf_counter() - t0) / n)
        flops = 2 * a.shape[0] * a.shape[1] * c.shape[1]
        rows.append({"product": label, "microseconds": best * 1e6, "gflops": flops / best / 1e9})
        train_step += best
        if kind == "fwd":
            val_step += best
    val_steps = -(-w.n_val // b)
    return {"products": rows, "train_step_us": train_step * 1e6,
            "epoch_seconds": train_step * w.steps_per_epoch + val_step * val_steps,
            "steps": w.steps_per_epoch, "val_steps": val_steps}


def _nntrain_command() -> list[str]:
    """The installed console script (not a shell shim in front of it) if it runs, else the module: a script left
    by an install of another checkout fails to import and must not end the benchmark run."""
    script = Path(sysconfig.get_path("scripts")) / "nntrain"
    found = str(script) if script.exists() else shutil.which("nntrain")
    if found and subprocess.run([found, "--help"], cwd=ROOT, capture_output=True).returncode == 0:
        return [found]
    return [sys.executable, "-m", "nntrain"]


def _wall(cmd: list[str], runs: int, cwd=ROOT) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return times


def startup(runs: int = 7) -> dict:
    """Median wall time of `nntrain --help` and `nntrain check configs/iris.yaml`, after one untimed run each."""
    cmd = _nntrain_command()
    out = {"command": " ".join(cmd)}
    for key, args in (("help", ["--help"]), ("check_iris", ["check", "configs/iris.yaml"])):
        _wall(cmd + args, 1)
        times = _wall(cmd + args, runs)
        out[key] = {"median": statistics.median(times), "min": min(times), "max": max(times)}
    return out


def kfold(folds: int = 4) -> dict:
    """`nntrain kfold configs/boston_housing_kfold.yaml --folds 4` end to end, runs written to a temporary folder."""
    cmd = _nntrain_command()
    help_text = subprocess.run(cmd + ["--help"], capture_output=True, text=True).stdout
    if "kfold" not in help_text:
        return {"skipped": "this nntrain has no kfold command"}
    config = ROOT / "configs" / "boston_housing_kfold.yaml"
    if not config.exists():
        return {"skipped": f"{config} is missing"}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd + ["kfold", str(config), "--folds", str(folds), "--runs-dir", tmp,
                                     "--progress", "none", "--quiet"], cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            return {"skipped": f"kfold exited {proc.returncode}: {proc.stderr.strip()[-300:]}"}
        reports = list(Path(tmp).glob("*/kfold.json"))
        report = json.loads(reports[0].read_text())
    mae = report["metrics"].get("val_mae", {})
    return {"seconds": seconds, "folds": folds, "epochs": report["per_fold"][0].get("epochs"),
            "val_mae_mean": mae.get("final_mean"), "val_mae_std": mae.get("final_std")}


def memory(epochs: int = 20) -> dict:
    """The IMDB-shaped run (benchmarks/imdb_memory.py) in a subprocess: peak RSS with sparse input, and the epoch
    time of sparse against dense input for the same model."""
    script = str(ROOT / "benchmarks" / "imdb_memory.py")

    def run(*args):
        proc = subprocess.run([sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    sparse = run("--input", "sparse", "--epochs", str(epochs))
    dense = run("--input", "dense", "--epochs", "3")
    s, d = statistics.median(sparse["epoch_seconds"][1:]), statistics.median(dense["epoch_seconds"][1:])
    return {"peak_rss_mb": sparse["peak_rss_mb"], "ru_maxrss_mb": sparse["ru_maxrss_mb"], "epochs": epochs,
            "nnz": sparse["nnz"],
            "sparse_epoch_seconds": s, "dense_epoch_seconds": d, "dense_over_sparse": d / s,
            "dense_peak_rss_mb": dense["peak_rss_mb"]}


def progress_overhead(workloads: list, epochs: int = 3) -> dict:
    """The live rich bar's share of an epoch: the time spent inside the display's hooks (drawing included), with the
    bar drawn to an in-memory terminal, over the whole epoch time. Per workload; W3 (batch 1) is the most steps per
    second, W1 the most redraws (epochs of about a second)."""
    from rich.console import Console

    from benchmarks.frameworks import nntrain_impl
    from benchmarks.workloads import make_data
    from nntrain.training.callbacks import TerminateOnNaN
    from nntrain.training.loop import Trainer
    from nntrain.training.progress import ProgressDisplay

    out = {}
    for w in workloads:
        data = make_data(w)
        model = nntrain_impl.build(w)
        clock = nntrain_impl.EpochClock()
        console = Console(file=io.StringIO(), force_terminal=True, width=120)
        display = ProgressDisplay("bar", console=console, stream=console.file)
        spent = [0.0]
        for hook in ("on_epoch_begin", "on_train_batch_end", "on_epoch_end", "on_train_end"):
            inner = getattr(display, hook)

            def timed(*args, _inner=inner):
                t0 = time.perf_counter()
                _inner(*args)
                spent[0] += time.perf_counter() - t0

            setattr(display, hook, timed)
        y, vy = data["train"]["y"], data["val"]["y"]
        if w.task == "wide_deep":
            y, vy = {"main": y, "aux": y}, {"main": vy, "aux": vy}
        x, vx = nntrain_impl._x(w, data["train"]["x"]), nntrain_impl._x(w, data["val"]["x"])
        Trainer(model, x, y, epochs=epochs, batch_size=w.batch_size, validation_data=(vx, vy),
                callbacks=[display, TerminateOnNaN(), clock]).run()
        total = sum(clock.seconds)
        out[w.key] = {"epoch_seconds": total / epochs, "display_seconds_per_epoch": spent[0] / epochs,
                      "share": spent[0] / total}
    return out
