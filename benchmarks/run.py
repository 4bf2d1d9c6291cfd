"""nntrain's benchmark suite: one command runs the workloads with nntrain and every installed peer, then writes
benchmarks/results/<date>.json and a markdown table (also printed).

    python benchmarks/run.py [--quick] [--reps N] [--epochs E] [--only W1,W2,gemm,startup,kfold,memory,progress]
                             [--frameworks nntrain,torch,keras,sklearn]

Protocol: the data of a workload is made once and given to every framework. Each repetition builds a fresh model
per framework and trains it for E epochs, the frameworks taking turns (the order rotates every repetition); the
first epoch of each run is a warm-up and is not counted. Reported: median, min and max seconds per epoch over the
counted epochs, and nntrain's median divided by each peer's. Peers (`pip install .[bench]`) are skipped when not
installed. The default is 5 repetitions x 3 epochs: on a shared machine a burst of outside load lasts tens of
seconds and can cover a whole repetition of a small workload, which moves a median of 3 repetitions by 15% or more.
--quick is 1 repetition of 2 epochs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import extras  # noqa: E402
from benchmarks.frameworks import FRAMEWORKS, load  # noqa: E402
from benchmarks.workloads import WORKLOADS, make_data  # noqa: E402

EXTRAS = ("gemm", "startup", "kfold", "memory", "progress")

# nntrain median / peer median must be at most this (the same margin applies against Keras).
TARGET_RATIO = {"W1": 0.55, "W2": 0.2, "W3": 0.15, "W4": 0.3, "W5": 0.15, "W7": 1.5}
GEMM_FACTOR = 2.5          # W1 epoch within this many times its matmul-only time
HELP_SECONDS = 0.4
PEAK_RSS_MB = 300
SPARSE_SPEEDUP = 10
PROGRESS_SHARE = 0.02


def machine() -> dict:
    import numpy as np

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    blas = ""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # older numpy: no dict mode
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem, 1), "python": platform.python_version(),
            "numpy": np.__version__, "blas": blas, "platform": platform.platform()}


def summarize(seconds: list[float]) -> dict:
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds), "n": len(seconds)}


def run_workload(w, frameworks: list[str], reps: int, epochs: int) -> dict:
    data = make_data(w)
    impls = [f for f in frameworks if f == "nntrain" or f in w.peers]
    samples = {f: [] for f in impls}
    finals = {}
    for rep in range(reps):
        order = impls[rep % len(impls):] + impls[:rep % len(impls)]
        for f in order:
            print(f"  {w.key} rep {rep + 1}/{reps}: {f} ...", end="", flush=True)
            result = load(f).train(w, data, epochs)
            counted = result["epoch_seconds"][1:] if epochs > 1 else result["epoch_seconds"]
            samples[f] += counted
            finals[f] = result["final"]
            print(f" {statistics.median(counted):.3f} s/epoch", flush=True)
    out = {"key": w.key, "name": w.name, "description": w.description, "n_train": w.n_train, "n_val": w.n_val,
           "batch_size": w.batch_size, "steps_per_epoch": w.steps_per_epoch, "results": {}}
    for f in impls:
        out["results"][f] = {**summarize(samples[f]), "final": finals[f], "samples": samples[f]}
    base = out["results"]["nntrain"]["median"]
    for f in impls[1:]:
        out["results"][f]["nntrain_ratio"] = base / out["results"][f]["median"]
    return out


def targets(report: dict) -> list[dict]:
    """Each target with its measured value and whether it is met."""
    rows = []
    for key, limit in TARGET_RATIO.items():
        wl = report["workloads"].get(key)
        if not wl:
            continue
        for peer in ("torch", "keras"):
            r = wl["results"].get(peer)
            if r:
                rows.append({"target": f"{key} nntrain/{peer} <= {limit}", "value": f"{r['nntrain_ratio']:.3f}",
                             "met": r["nntrain_ratio"] <= limit})
    gemm, w1 = report.get("gemm"), report["workloads"].get("W1")
    if gemm and w1:
        factor = w1["results"]["nntrain"]["median"] / gemm["epoch_seconds"]
        rows.append({"target": f"W1 within {GEMM_FACTOR}x of its GEMM-only bound", "value": f"{factor:.2f}x",
                     "met": factor <= GEMM_FACTOR})
    if "startup" in report:
        h = report["startup"]["help"]["median"]
        rows.append({"target": f"`nntrain --help` < {HELP_SECONDS} s", "value": f"{h:.3f} s", "met": h < HELP_SECONDS})
    if "memory" in report and "peak_rss_mb" in report["memory"]:
        m = report["memory"]
        rows.append({"target": f"IMDB full run peak RSS < {PEAK_RSS_MB} MB", "value": f"{m['peak_rss_mb']:.0f} MB",
                     "met": m["peak_rss_mb"] < PEAK_RSS_MB})
        rows.append({"target": f"sparse input >= {SPARSE_SPEEDUP}x faster than dense", "value":
                     f"{m['dense_over_sparse']:.1f}x", "met": m["dense_over_sparse"] >= SPARSE_SPEEDUP})
    if "progress" in report:
        for key, p in report["progress"].items():
            rows.append({"target": f"live progress bar < {PROGRESS_SHARE:.0%} of a {key} epoch",
                         "value": f"{p['share']:.2%}", "met": p["share"] < PROGRESS_SHARE})
    return rows


def markdown(report: dict) -> str:
    lines = [f"Run {report['date']} on {report['machine']['cpu']}, {report['machine']['cores']} cores, "
             f"{report['machine']['memory_gb']} GB; Python {report['machine']['python']}, NumPy "
             f"{report['machine']['numpy']} ({report['machine']['blas']}); "
             + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v) + ".",
             f"{report['reps']} repetitions x {report['epochs']} epochs (first epoch of each run not counted); "
             f"10% extra validation rows evaluated every epoch by every framework.", ""]
    if report["workloads"]:
        lines += ["| workload | framework | median s/epoch | min - max | nntrain / framework |",
                  "| --- | --- | ---: | ---: | ---: |"]
        for wl in report["workloads"].values():
            for f, r in wl["results"].items():
                ratio = f"{r['nntrain_ratio']:.3f}" if "nntrain_ratio" in r else ""
                lines.append(f"| {wl['key']} {wl['name']} | {f} | {r['median']:.4f} | {r['min']:.4f} - "
                             f"{r['max']:.4f} | {ratio} |")
        lines.append("")
    if "gemm" in report:
        g = report["gemm"]
        lines += [f"GEMM-only bound of W1 (float32 matmuls of its shapes, {g['steps']} training + {g['val_steps']} "
                  f"validation steps): {g['epoch_seconds']:.3f} s/epoch ({g['train_step_us']:.1f} us per training "
                  f"step)" + (f"; nntrain's epoch: {report['workloads']['W1']['results']['nntrain']['median']:.3f} s"
                              if "W1" in report["workloads"] else "") + ".", "",
                  "| product | us | GFLOP/s |", "| --- | ---: | ---: |"]
        lines += [f"| {p['product']} | {p['microseconds']:.2f} | {p['gflops']:.1f} |" for p in g["products"]]
        lines.append("")
    if "startup" in report:
        s = report["startup"]
        lines.append(f"Start-up (median of several): `nntrain --help` {s['help']['median']:.3f} s, "
                     f"`nntrain check configs/iris.yaml` {s['check_iris']['median']:.3f} s.")
    if "kfold" in report:
        k = report["kfold"]
        if "skipped" in k:
            lines.append(f"k-fold: skipped ({k['skipped']}).")
        else:
            lines.append(f"`nntrain kfold configs/boston_housing_kfold.yaml --folds 4`: {k['seconds']:.2f} s wall, "
                         f"mean val MAE {k['val_mae_mean']:.3f} (std {k['val_mae_std']:.3f}).")
    if "memory" in report:
        m = report["memory"]
        lines.append(f"IMDB-shaped full run (25,000 x 10,000 multi-hot, {m['nnz']:,} ones, 16-16-1, batch 512, "
                     f"{m['epochs']} epochs, in its own process): peak RSS {m['peak_rss_mb']:.0f} MB (VmHWM); epoch "
                     f"{m['sparse_epoch_seconds']:.3f} s sparse vs {m['dense_epoch_seconds']:.3f} s dense input "
                     f"({m['dense_over_sparse']:.1f}x).")
    if "progress" in report:
        lines.append("Live progress bar (time inside the display's hooks, drawing to an in-memory terminal): "
                     + "; ".join(f"{k} {p['display_seconds_per_epoch'] * 1e3:.2f} ms of a {p['epoch_seconds']:.3f} s "
                                 f"epoch ({p['share']:.2%})" for k, p in report["progress"].items()) + ".")
    rows = targets(report)
    if rows:
        lines += ["", "| target | measured | met |", "| --- | ---: | :---: |"]
        lines += [f"| {r['target']} | {r['value']} | {'yes' if r['met'] else 'no'} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition of 2 epochs, fewer start-up runs")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per framework (default 5)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run, the first not counted (default 3)")
    parser.add_argument("--only", default="", help=f"comma list of workloads {list(WORKLOADS)} and extras {EXTRAS}")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma list of frameworks to run")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for the results")
    args = parser.parse_args(argv)
    reps = args.reps or (1 if args.quick else 5)
    epochs = args.epochs or (2 if args.quick else 3)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in WORKLOADS and s not in EXTRAS]
    if unknown:
        parser.error(f"unknown --only entries {unknown}; choose from {list(WORKLOADS) + list(EXTRAS)}")
    selected = lambda name: not only or name in only  # noqa: E731

    versions, frameworks = {}, []
    for f in args.frameworks.split(","):
        version = load(f).available()
        versions[f] = version
        if version:
            frameworks.append(f)
        else:
            print(f"{f}: not installed, skipped", flush=True)
    if "nntrain" not in frameworks:
        frameworks.insert(0, "nntrain")

    report = {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine(), "versions": versions,
              "reps": reps, "epochs": epochs, "quick": args.quick, "workloads": {}}
    if "torch" in frameworks:
        import torch

        report["machine"]["torch_threads"] = torch.get_num_threads()
    for key, w in WORKLOADS.items():
        if selected(key):
            print(f"{key} {w.name}: {w.description}", flush=True)
            report["workloads"][key] = run_workload(w, frameworks, reps, epochs)
    if selected("gemm"):
        print("GEMM bound ...", flush=True)
        report["gemm"] = extras.gemm_bound(WORKLOADS["W1"])
    if selected("startup"):
        print("start-up ...", flush=True)
        report["startup"] = extras.startup(runs=3 if args.quick else 7)
    if selected("kfold"):
        print("k-fold ...", flush=True)
        report["kfold"] = extras.kfold()
    if selected("memory"):
        print("IMDB memory ...", flush=True)
        report["memory"] = extras.memory(epochs=20)
    if selected("progress"):
        print("progress display ...", flush=True)
        report["progress"] = extras.progress_overhead([WORKLOADS["W3"], WORKLOADS["W1"]])
    report["targets"] = targets(report)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = dt.date.today().isoformat() + ("-quick" if args.quick else "") + ("-" + "-".join(only) if only else "")
    table = markdown(report)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{stem}.md").write_text(table)
    print()
    print(table)
    print(f"written: {out / (stem + '.json')} and {out / (stem + '.md')}")


if __name__ == "__main__":
    main()
