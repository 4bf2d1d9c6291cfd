"""Loading a large CSV into model-ready float32 arrays: MB/s and peak memory, one JSON line per measurement.

Generates (once) a CSV of 1,000,000 rows x 20 float features + an integer label (~172 MB, as in issue 18), then in a
fresh process per measurement runs what `nntrain fit` runs before training: load_raw (read the file) and
make_bundle (fit the preprocessor, transform to float32 (rows, 20) and int32 labels). Peak memory is the process's
peak resident size minus its size after the imports, so it counts what loading added.

    nice python benchmarks/table_load.py [--rows 1000000] [--reader pandas|csv|both] [--gzip]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

FEATURES = 20


def make_csv(path: Path, rows: int) -> None:
    """Random normal features with 6 decimals and a 0/1 label, written in chunks."""
    rng = np.random.default_rng(0)
    header = ",".join([f"f{i}" for i in range(FEATURES)] + ["label"]) + "\n"
    opener = __import__("gzip").open if path.suffix == ".gz" else open
    with opener(path, "wt") as f:
        f.write(header)
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            x = rng.normal(size=(n, FEATURES))
            label = (x[:, 0] + x[:, 1] > 0).astype(int)
            body = np.column_stack([x, label])
            np.savetxt(f, body, fmt=["%.6f"] * FEATURES + ["%d"], delimiter=",")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: Path, reader: str) -> dict:
    """One load in this process: seconds, MB/s of the file, peak MB added, MB of the final arrays."""
    from nntrain.data import load_raw, make_bundle

    try:
        from nntrain.data import tables_pandas
    except ImportError:  # an nntrain from before the pandas reader (for "before" figures)
        tables_pandas = None
    if reader == "csv" and tables_pandas is not None:
        tables_pandas.available = lambda: False
    elif reader == "pandas" and not (tables_pandas and tables_pandas.available()):
        raise SystemExit("pandas is not installed (pip install nntrain[data])")
    if reader == "pandas":
        import pandas  # noqa: F401  a library's import is not the data's memory
    base = _rss_mb()
    start = time.perf_counter()
    raw = load_raw({"train": str(path), "target": "label"}, path.parent)
    bundle = make_bundle(raw, {})
    seconds = time.perf_counter() - start
    final_mb = (bundle.train.x.nbytes + bundle.train.y.nbytes) / 2**20
    size_mb = path.stat().st_size / 2**20
    return {"reader": reader, "file": path.name, "file_mb": round(size_mb, 1), "seconds": round(seconds, 2),
            "mb_per_s": round(size_mb / seconds, 1), "peak_added_mb": round(_rss_mb() - base, 1),
            "final_arrays_mb": round(final_mb, 1), "x": list(bundle.train.x.shape), "x_dtype": str(bundle.train.x.dtype)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reader", choices=("pandas", "csv", "both"), default="both")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--dir", default="/tmp/nntrain-bench")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure in this process
    args = parser.parse_args()
    path = Path(args.dir) / f"table-{args.rows}{'.csv.gz' if args.gzip else '.csv'}"
    if args.one:
        import nntrain.data.dataset  # noqa: F401  the imports are not part of the measurement
        import nntrain.data.loading  # noqa: F401

        print(json.dumps(measure(path, args.one)))
        return
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        make_csv(path, args.rows)
    print(json.dumps({"load_average": os.getloadavg(), "cpus": os.cpu_count()}))
    for reader in (("pandas", "csv") if args.reader == "both" else (args.reader,)):
        cmd = [sys.executable, __file__, "--rows", str(args.rows), "--dir", args.dir, "--one", reader]
        subprocess.run(cmd + (["--gzip"] if args.gzip else []), check=True)


if __name__ == "__main__":
    main()
