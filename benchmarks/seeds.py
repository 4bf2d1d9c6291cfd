"""The figures of configs/README.md over several seeds: each bundled example config is trained with its own seed
and the next ones, evaluated as a user would (`nntrain fit`, then `nntrain evaluate` on the held-out test split),
and summarised as mean ± std (sample std, ddof 1) with the worst seed beside it.

    nice python benchmarks/seeds.py [--seeds 5] [--only iris,wine] [--render-only]

Writes benchmarks/results/seeds.json (every seed's value) and rewrites the result cell of each measured row of
configs/README.md, and the README figures marked `<!-- seeds:NAME -->...<!-- /seeds -->`, from that file.
`--render-only` rewrites the documents from the JSON without training. tests/test_quality.py checks that the
documents say what the JSON holds and that its bars hold for every recorded seed.

The Keras-catalogue configs (fashion_mnist, imdb, reuters, california_housing, wide_deep*) need downloads and
minutes of training each, so they are not measured here: their rows keep the textbook's reference figure.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
RESULTS = ROOT / "benchmarks" / "results" / "seeds.json"
DOCUMENTS = (CONFIGS / "README.md", ROOT / "README.md")

# config -> the figures its row shows: (label, key in the evaluation or k-fold summary, decimals). The first is the
# figure the quality bar of tests/test_quality.py is about, and also gets its worst seed.
FIGURES = {
    "iris": [("test accuracy", "accuracy", 3), ("loss", "loss", 3)],
    "wine": [("test accuracy", "accuracy", 3), ("loss", "loss", 3)],
    "breast_cancer": [("test accuracy", "accuracy", 3), ("AUC", "auc", 3), ("precision", "precision", 3),
                      ("recall", "recall", 3)],
    "digits": [("test accuracy", "accuracy", 3), ("loss", "loss", 3)],
    "digits_cnn": [("test accuracy", "accuracy", 3), ("loss", "loss", 3)],
    "fashion_mnist_cnn": [("test accuracy", "accuracy", 3), ("loss", "loss", 3)],  # needs the Fashion-MNIST files
    "boston_housing": [("test MAE", "mae", 2), ("MSE", "loss", 1)],
    "boston_housing_kfold": [("4-fold validation MAE", "val_mae", 2), ("with `--refit` (all 404 rows) test MAE",
                                                                        "refit_test_mae", 2)],
    "xor": [("accuracy", "accuracy", 2), ("loss", "loss", 4)],
}
KFOLD = {"boston_housing_kfold": 4}  # config -> folds


def config_seed(name: str) -> int:
    import yaml

    return int(yaml.safe_load((CONFIGS / f"{name}.yaml").read_text(encoding="utf-8"))["seed"])


def measure(name: str, seed: int, runs_dir: Path) -> dict[str, float]:
    """Test-split figures of one config trained with `seed` (k-fold configs: the folds' mean and the refit)."""
    from nntrain.commands.evaluate import evaluate

    overrides = [f"seed={seed}"]
    if name in KFOLD:
        from nntrain.commands.kfold import kfold

        result = kfold(CONFIGS / f"{name}.yaml", KFOLD[name], refit=True, overrides=overrides, runs_dir=runs_dir)
        summary = result.summary
        return {"val_mae": summary["metrics"]["val_mae"]["final_mean"],
                "val_mae_fold_std": summary["metrics"]["val_mae"]["final_std"],
                "refit_test_mae": summary["refit"]["test"]["mae"], "refit_epochs": summary["refit"]["epochs"]}
    from nntrain.commands.fit import fit

    result = fit(CONFIGS / f"{name}.yaml", overrides, runs_dir=runs_dir)
    return dict(evaluate(result.run_dir).report["metrics"])


def run(names: list[str], count: int) -> dict:
    """{config: {"seeds": [...], "values": {key: [one value per seed]}}}, training every config `count` times."""
    out = {}
    for name in names:
        seeds = [config_seed(name) + i for i in range(count)]
        per_seed = []
        for seed in seeds:
            with tempfile.TemporaryDirectory() as tmp:
                per_seed.append(measure(name, seed, Path(tmp)))
            print(f"{name} seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in per_seed[-1].items()), flush=True)
        keys = list(per_seed[0])
        out[name] = {"seeds": seeds, "values": {k: [float(r[k]) for r in per_seed] for k in keys}}
    return out


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def worst(key: str, values: list[float]) -> float:
    from nntrain.engine.monitor import direction  # the one "which way is better" rule

    return max(values) if direction(key.removeprefix("refit_test_")) == "down" else min(values)


def cell(name: str, record: dict) -> str:
    """The result cell of a config's row in configs/README.md."""
    seeds = record["seeds"]
    parts = []
    for i, (label, key, decimals) in enumerate(FIGURES[name]):
        mean, std = mean_std(record["values"][key])
        text = f"{label} {mean:.{decimals}f} ± {std:.{decimals}f}"
        if i == 0:
            text += f" (worst seed {worst(key, record['values'][key]):.{decimals}f})"
        parts.append(text)
    return f"**measured**, mean ± std over seeds {seeds[0]}-{seeds[-1]}: " + ", ".join(parts)


def quote(name: str, record: dict) -> str:
    """The short form the README quotes between `<!-- seeds:NAME -->` markers: the first figure's mean ± std."""
    _, key, decimals = FIGURES[name][0]
    mean, std = mean_std(record["values"][key])
    return f"{mean:.{decimals}f} ± {std:.{decimals}f} (seeds {record['seeds'][0]}-{record['seeds'][-1]})"


def render_table(text: str, results: dict) -> str:
    """configs/README.md with the last cell of each measured config's row replaced."""
    for name, record in results.items():
        row = re.compile(rf"^(\| \[{re.escape(name)}\.yaml\]\({re.escape(name)}\.yaml\) \|.*\| )[^|]*( \|)$",
                         re.MULTILINE)
        result = cell(name, record)
        text, found = row.subn(lambda m, result=result: m.group(1) + result + m.group(2), text)
        if found != 1:
            raise SystemExit(f"configs/README.md: no table row for {name}.yaml")
    return text


def render_quotes(text: str, results: dict) -> str:
    """A document with every `<!-- seeds:NAME -->...<!-- /seeds -->` quote brought up to date."""
    def replace(m):
        return f"<!-- seeds:{m.group(1)} -->{quote(m.group(1), results[m.group(1)])}<!-- /seeds -->"

    return re.sub(r"<!-- seeds:(\w+) -->.*?<!-- /seeds -->", replace, text)


def render(path: Path, results: dict) -> str:
    text = path.read_text(encoding="utf-8")
    if path.parent == CONFIGS:
        text = render_table(text, results)
    return render_quotes(text, results)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per config (at least 3)")
    parser.add_argument("--only", default="", help="comma-separated configs to measure again (others are kept)")
    parser.add_argument("--render-only", action="store_true", help="rewrite the documents from the JSON")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    if not args.render_only:
        if args.seeds < 3:
            parser.error("--seeds must be at least 3")
        names = [n for n in args.only.split(",") if n] or list(FIGURES)
        unknown = sorted(set(names) - set(FIGURES))
        if unknown:
            parser.error(f"unknown config(s) {unknown}; measured configs: {list(FIGURES)}")
        results.update(run(names, args.seeds))
        RESULTS.write_text(json.dumps({n: results[n] for n in FIGURES if n in results}, indent=1) + "\n",
                           encoding="utf-8")
    for path in DOCUMENTS:
        path.write_text(render(path, results), encoding="utf-8")
    for name, record in results.items():
        print(f"{name}: {cell(name, record)}")


if __name__ == "__main__":
    main()
