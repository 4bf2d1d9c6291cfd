"""The `nntrain` command: parse arguments, call a library function, print its result or its error.

Errors a user can fix (nntrain.errors) print as one red paragraph and exit with code 2; no traceback.
Heavy modules (engine, h5py, data loaders, plotting) are imported inside commands, so --help stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Train Keras-style neural networks from one YAML file, on nntrain's own NumPy engine.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

SET_HELP = "Override a config value: --set training.epochs=50 (repeatable)."
PROGRESS_HELP = "auto (bar on a terminal, one line per epoch otherwise), bar, line or none."


def _console(stderr: bool = False):
    """A rich console; off a terminal (logs, pipes) tables get 120 columns instead of rich's 80."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 120)


def fail(exc: Exception, code: int = 2) -> None:
    """Print a user error as one red paragraph and exit."""
    from rich.markup import escape

    _console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    raise typer.Exit(code)


def _guard(fn, *args, **kwargs):
    from nntrain.errors import NNTrainError

    try:
        return fn(*args, **kwargs)
    except NNTrainError as exc:
        fail(exc)
    except KeyboardInterrupt:  # before training started (loading, downloading): nothing to keep
        _console(stderr=True).print("interrupted")
        raise typer.Exit(130)


def _progress_mode(progress: str, quiet: bool) -> str:
    """The display mode: `auto` becomes `bar` on a terminal and `line` otherwise."""
    from nntrain.training.progress import MODES, resolve_mode

    if quiet:
        return "none"
    if progress not in MODES:
        from nntrain.errors import ConfigError

        fail(ConfigError(f"--progress expects one of {', '.join(MODES)}, got {progress!r}"))
    return resolve_mode(progress)


def _download_progress(mode: str):
    """A data-download progress callback: a rich bar on a terminal, plain lines otherwise."""
    state = {}

    def report(done: int, total: int, description: str):
        if mode == "none":
            return
        if mode == "bar":
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                       TransferSpeedColumn)

            if "bar" not in state:
                state["bar"] = Progress(TextColumn(description), BarColumn(), DownloadColumn(),
                                        TransferSpeedColumn(), TimeRemainingColumn(), transient=False)
                state["bar"].start()
                state["task"] = state["bar"].add_task(description, total=total or None)
            state["bar"].update(state["task"], completed=done)
            if total and done >= total:
                state.pop("bar").stop()
        else:
            if description not in state:
                state[description] = True
                size = f" ({total / 1e6:.1f} MB)" if total else ""
                print(f"downloading {description}{size}", flush=True)

    return report


@app.command()
def fit(
    config: Optional[Path] = typer.Argument(None, help="The YAML config file."),
    set_: List[str] = typer.Option([], "--set", help=SET_HELP),
    name: Optional[str] = typer.Option(None, "--name", help="Run name (default: the config's `name`)."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="Where run folders go."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this folder from its "
                                                                 "last checkpoint (exactly)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Start from another run's checkpoint, "
                                                                   "matching layers by name."),
    progress: str = typer.Option("auto", "--progress", help=PROGRESS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors and the run folder."),
):
    """Train the model a config describes; write config, history, metrics and checkpoints to runs/NAME/."""
    from nntrain.experiment import fit as fit_run
    from nntrain.training.progress import ProgressDisplay

    mode = _progress_mode(progress, quiet)
    display = ProgressDisplay(mode)

    def started(run_dir, cfg, model):
        if mode == "none":
            return
        if mode == "bar":
            _console().print(f"[bold]{cfg['name']}[/]: run folder [cyan]{run_dir}[/]")
            _console().print(model.summary(), markup=False)
        else:
            print(f"{cfg['name']}: run folder {run_dir}", flush=True)

    result = _guard(fit_run, config, overrides=set_, runs_dir=runs_dir, name=name, resume=resume, weights=weights,
                    display=display, download_progress=_download_progress(mode), command=sys.argv, on_start=started)
    _report_fit(result, mode, quiet)
    raise typer.Exit(result.exit_code)


def _report_fit(result, mode: str, quiet: bool) -> None:
    if result.message:
        style = "red" if result.exit_code else "yellow"
        stream = sys.stderr if result.exit_code else sys.stdout
        if mode == "bar":
            _console(stderr=bool(result.exit_code)).print(f"[{style}]{result.message}[/]")
        else:
            print(result.message, file=stream, flush=True)
    if quiet:
        print(result.run_dir)
        return
    if mode == "none":
        return
    keys = [k for k in result.final if k not in ("seconds", "learning_rate")]
    if mode == "bar":
        from rich.table import Table

        table = Table(title=f"{result.status}: {result.run_dir}")
        table.add_column("metric")
        table.add_column("final", justify="right")
        table.add_column("best", justify="right")
        table.add_column("best epoch", justify="right")
        for k in keys:
            b = result.best.get(k, {})
            table.add_row(k, f"{result.final[k]:.4f}", f"{b.get('value', float('nan')):.4f}", str(b.get("epoch", "")))
        _console().print(table)
    else:
        print(f"{result.status}: " + ", ".join(f"{k}={result.final[k]:.4f}" for k in keys), flush=True)
        print(f"run folder: {result.run_dir}", flush=True)


@app.command()
def check(
    config: Path = typer.Argument(..., help="The YAML config file."),
    set_: List[str] = typer.Option([], "--set", help=SET_HELP),
):
    """Validate a config and print it resolved (all defaults filled in) with the model summary.
    Loads and downloads no data."""
    from nntrain.config import load_config
    from nntrain.experiment import prepare

    def run():
        cfg = load_config(config, set_)
        model = prepare(cfg)
        return cfg, model

    cfg, model = _guard(run)
    import yaml

    print(yaml.safe_dump(cfg.resolved, sort_keys=False, default_flow_style=None, width=100), end="")
    print()
    print(model.summary())
    print(f"\n{config}: OK")


@app.command()
def schema():
    """Print the JSON Schema of the config format (for VS Code YAML, JetBrains and other editors)."""
    import json

    from nntrain.config.schema import config_schema

    print(json.dumps(config_schema(), indent=2))


@app.command()
def datasets():
    """List the bundled datasets and the Keras catalogue ones, with shapes and tasks."""
    from rich.table import Table

    from nntrain.data import list_datasets

    rows = _guard(list_datasets)
    table = Table(title="datasets")
    for col in ("name", "source", "task", "rows", "x shape", "classes", "available"):
        table.add_column(col, no_wrap=col == "name", justify="right" if col in ("rows", "classes") else "left")
    for r in rows:
        n = r.get("rows", "")
        table.add_row(str(r.get("name")), str(r.get("source")), str(r.get("task")), f"{n:,}" if isinstance(n, int) else str(n),
                      str(r.get("shape", "")), str(r.get("classes", "") or ""),
                      "yes" if r.get("cached", r.get("source") == "bundled") else "download")
    _console().print(table)


# --- evaluate / predict / kfold / plot / runs ------------------------------------------------------------
CHECKPOINT_HELP = "best (default; last when the run had no validation set) or last."


def _fmt(v) -> str:
    import math

    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return str(v)


@app.command()
def evaluate(
    run: Path = typer.Argument(..., help="A run folder (runs/NAME) or a checkpoint file."),
    checkpoint: str = typer.Option("best", "--checkpoint", help=CHECKPOINT_HELP),
    data: Optional[Path] = typer.Option(None, "--data", help="Evaluate on another config's data (.yaml) or a "
                                                             "data file laid out like the training data."),
    split: str = typer.Option("test", "--split", help="test, val or train (of the run's data, or --data's config)."),
):
    """Loss and metrics of a trained run on its test split (or val/train, or other data), with a confusion matrix
    and per-class precision/recall/F1 (classification) or MAE/MSE/RMSE/R^2 (regression).
    Writes evaluation-SPLIT-CHECKPOINT.json into the run folder."""
    from rich.table import Table

    from nntrain.commands.evaluate import evaluate as evaluate_run

    result = _guard(evaluate_run, run, checkpoint=checkpoint, data=data, split=split)
    r = result.report
    console = _console()
    if r.get("note"):
        console.print(f"[yellow]{r['note']}[/]")
    console.print(f"[bold]{r['data']}[/]: {r['rows']} rows, {r['checkpoint']} checkpoint (epoch {r['epoch']}), "
                  f"batch size {r['batch_size']}")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in r["metrics"].items():
        table.add_row(k, _fmt(v))
    console.print(table)
    for name, out in r["outputs"].items():
        label = "" if len(r["outputs"]) == 1 else f"{name}: "
        if "confusion_matrix" in out:
            names = out["class_names"]
            console.print(f"\n[bold]{label}confusion matrix[/] (rows: true class, columns: predicted)")
            cm = Table()
            cm.add_column("true \\ predicted")
            for c in names:
                cm.add_column(str(c), justify="right")
            for c, row in zip(names, out["confusion_matrix"]):
                cm.add_row(str(c), *map(str, row))
            console.print(cm)
            console.print(f"\n[bold]{label}per class[/] (accuracy {_fmt(out['accuracy'])})")
            pc = Table()
            for col in ("class", "precision", "recall", "f1", "support"):
                pc.add_column(col, justify="left" if col == "class" else "right")
            for c in out["per_class"]:
                pc.add_row(str(c["class"]), _fmt(c["precision"]), _fmt(c["recall"]), _fmt(c["f1"]), str(c["support"]))
            for avg in ("macro_avg", "weighted_avg"):
                a = out[avg]
                pc.add_row(avg.replace("_", " "), _fmt(a["precision"]), _fmt(a["recall"]), _fmt(a["f1"]), "")
            console.print(pc)
        elif "per_label" in out:
            console.print(f"\n[bold]{label}per label[/]")
            pl = Table()
            for col in ("label", "precision", "recall", "f1", "support"):
                pl.add_column(col, justify="left" if col == "label" else "right")
            for c, m in out["per_label"].items():
                pl.add_row(str(c), _fmt(m["precision"]), _fmt(m["recall"]), _fmt(m["f1"]), str(m["support"]))
            console.print(pl)
        elif "mae" in out:
            console.print(f"\n[bold]{label}regression[/] ({out['units']} units)")
            rg = Table()
            for col in ("MAE", "MSE", "RMSE", "R^2"):
                rg.add_column(col, justify="right")
            rg.add_row(_fmt(out["mae"]), _fmt(out["mse"]), _fmt(out["rmse"]), _fmt(out["r2"]))
            console.print(rg)
    console.print(f"written: [cyan]{result.path}[/]")


@app.command()
def predict(
    run: Path = typer.Argument(..., help="A run folder (runs/NAME) or a checkpoint file."),
    input: Path = typer.Argument(..., help="New data: .csv (the training feature columns, raw), .npy, .npz, .h5, "
                                           "or .txt (one document per line)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write predictions to FILE.csv or FILE.npy."),
    proba: bool = typer.Option(False, "--proba", help="Add one probability column per class."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="Add the K most likely classes and probabilities."),
    checkpoint: str = typer.Option("best", "--checkpoint", help=CHECKPOINT_HELP),
):
    """Predict new data with a trained run, applying its stored preprocessing. Without --output, a few rows print as
    a table and more go to INPUT-predictions.csv beside the input."""
    from rich.table import Table

    from nntrain.commands.predict import predict as predict_rows

    result = _guard(predict_rows, run, input, output=output, proba=proba, top_k=top_k, checkpoint=checkpoint)
    console = _console(stderr=result.table is None)
    if result.note:
        console.print(f"[yellow]{result.note}[/]")
    if result.table is not None:
        _console().print(f"[bold]{result.rows} predictions[/] ({result.checkpoint})")
        table = Table()
        first = result.table[0] if result.table else [0] * len(result.columns)
        for col, value in zip(result.columns, first):
            table.add_column(col, justify="right" if isinstance(value, (int, float)) else "left")
        for row in result.table:
            table.add_row(*[_fmt(v) for v in row])
        _console().print(table)
    else:
        why = " (more rows than fit a table; give --output to choose the file)" if result.defaulted_output else ""
        console.print(f"{result.rows} predictions written to [cyan]{result.output}[/]{why}")


class _FoldDisplay:
    """k-fold progress: a rich bar per fold (mode bar), or one plain line per finished fold (mode line)."""

    def __init__(self, mode: str, metric_keys=("val_loss",)):
        self.mode = mode
        self.progress = None
        self.tasks = {}

    def start(self):
        if self.mode != "bar":
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[logs]}"), console=_console())
        self.progress.start()

    def stop(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    @staticmethod
    def _logs(logs: dict) -> str:
        from nntrain.training.progress import format_logs

        return format_logs({k: v for k, v in logs.items() if k.startswith("val_")} or logs)

    def __call__(self, event: dict):
        fold = event["fold"]
        label = "refit" if fold == "refit" else f"fold {fold}"
        kind = event["type"]
        if self.progress is not None:
            if kind == "start":
                self.tasks[fold] = self.progress.add_task(label, total=event.get("epochs"), logs="waiting")
            elif kind == "epoch" and fold in self.tasks:
                self.progress.update(self.tasks[fold], completed=event["epoch"], total=event["epochs"],
                                     logs=self._logs(event["logs"]))
            elif kind == "end" and fold in self.tasks:
                style = {"finished": "green", "failed": "red"}.get(event["status"], "yellow")
                self.progress.update(self.tasks[fold], logs=f"[{style}]{event['status']}[/] "
                                                            f"{self._logs(event['final'])} {event['message']}")
        elif self.mode == "line" and kind == "end":
            extra = f" ({event['message']})" if event["message"] else ""
            print(f"{label}: {event['status']} after {event['epochs']} epochs - {self._logs(event['final'])}{extra}",
                  flush=True)


@app.command()
def kfold(
    config: Path = typer.Argument(..., help="The YAML config file."),
    folds: int = typer.Option(..., "--folds", "-k", help="Number of folds K (2 .. training rows)."),
    stratify: bool = typer.Option(False, "--stratify", help="Keep class proportions in every fold."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Train folds in N parallel processes (same results)."),
    refit: bool = typer.Option(False, "--refit", help="Then train on all training rows for the best averaged epoch "
                                                      "count and evaluate on the test split."),
    set_: List[str] = typer.Option([], "--set", help=SET_HELP),
    name: Optional[str] = typer.Option(None, "--name", help="Run name (default: the config's `name`)."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="Where run folders go."),
    progress: str = typer.Option("auto", "--progress", help=PROGRESS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors and the run folder."),
):
    """K-fold cross-validation: a fresh model per fold, trained on K-1 parts and validated on the held-out one.
    Writes runs/NAME/fold-1..K (normal run folders) and kfold.json / kfold.csv with mean +- std per metric, the
    averaged validation curve and its best epoch."""
    from nntrain.kfold import kfold as kfold_run

    mode = _progress_mode(progress, quiet)
    display = _FoldDisplay(mode)

    def started(run_dir, cfg):
        if mode == "bar":
            _console().print(f"[bold]{cfg['name']}[/]: {folds}-fold cross-validation in [cyan]{run_dir}[/]")
        elif mode == "line":
            print(f"{cfg['name']}: {folds}-fold cross-validation in {run_dir}", flush=True)
        display.start()

    try:  # _guard turns Ctrl-C before the folds start (config, data loading) into exit 130
        result = _guard(kfold_run, config, folds, stratify=stratify, jobs=jobs, refit=refit, overrides=set_,
                        runs_dir=runs_dir, name=name, on_event=display, command=sys.argv, on_start=started)
    finally:
        display.stop()
    _report_kfold(result, mode, quiet)
    raise typer.Exit(result.exit_code)


def _report_kfold(result, mode: str, quiet: bool) -> None:
    if result.message:
        stream = sys.stderr if result.exit_code else sys.stdout
        print(("error: " if result.exit_code == 1 else "") + result.message, file=stream, flush=True)
    if quiet:
        print(result.run_dir)
        return
    if mode == "none":
        return
    s = result.summary
    if not s["metrics"]:
        print(f"no fold finished; run folder: {result.run_dir}", flush=True)
        return
    from rich.table import Table

    console = _wide_console()
    console.print(f"[bold]{s['folds']}-fold {s['status']}[/]: {result.run_dir}")
    table = Table()
    table.add_column("metric")
    table.add_column("final mean ± std", justify="right")
    table.add_column("best mean ± std", justify="right")
    for k, m in s["metrics"].items():
        table.add_row(k, f"{_fmt(m['final_mean'])} ± {_fmt(m['final_std'])}",
                      f"{_fmt(m['best_mean'])} ± {_fmt(m['best_std'])}")
    console.print(table)
    best = s.get("best_epoch")
    if best:
        console.print(f"averaged {best['monitor']} is best at epoch {best['epoch']} ({_fmt(best['value'])})")
    refit = s.get("refit")
    if refit:
        test = ", ".join(f"{k}={_fmt(v)}" for k, v in (refit.get("test") or {}).items())
        console.print(f"refit on all training rows for {refit['epochs']} epochs: {refit['status']}"
                      + (f"; test: {test}" if test else ""))
    console.print(f"written: [cyan]{result.run_dir / 'kfold.json'}[/], [cyan]{result.run_dir / 'kfold.csv'}[/]")


@app.command()
def plot(run: Path = typer.Argument(..., help="A run folder or a k-fold folder.")):
    """PNG charts into the run folder: learning curves (training vs validation), the learning rate when it
    changed, k-fold averaged curves with per-fold spread, and confusion matrices of `nntrain evaluate`."""
    from nntrain.commands.plot import plot_run

    for path in _guard(plot_run, run):
        print(path)


@app.command("runs")
def runs_cmd(
    runs_dir: Path = typer.Argument(Path("runs"), help="The folder holding run folders."),
    sort: Optional[str] = typer.Option(None, "--sort", help="date (default), name, params, epochs, status, or a "
                                                            "metric such as val_accuracy, val_loss, test_mae."),
):
    """A table of the runs: name, date, dataset, parameters, epochs, best validation metric, test metric (after
    `nntrain evaluate`) and status."""
    from rich.table import Table

    from nntrain.runs.table import list_runs

    rows = _guard(list_runs, runs_dir, sort=sort)
    table = Table(title=f"{len(rows)} runs in {runs_dir}")
    for col in ("name", "date", "dataset", "params", "epochs", "metric", "best val", "test", "status"):
        table.add_column(col, justify="right" if col in ("params", "epochs", "best val", "test") else "left",
                         no_wrap=col in ("date", "status"))
    colors = {"finished": "green", "failed": "red", "interrupted": "yellow", "partial": "yellow"}
    for r in rows:
        name = r.name if r.kind == "run" else f"{r.name} ({r.kind})"
        status = f"[{colors[r.status]}]{r.status}[/]" if r.status in colors else r.status
        table.add_row(name, r.date, r.dataset, f"{r.params:,}" if r.params is not None else "-",
                      str(r.epochs) if r.epochs is not None else "-", r.metric or "-", _fmt(r.best_val),
                      _fmt(r.test), status)
    _wide_console().print(table)


def _wide_console():
    """A console for wide tables: piped output is not cut to 80 columns (terminals keep their width)."""
    console = _console()
    if not console.is_terminal:
        console.width = 160
    return console


def main() -> None:
    app()


if __name__ == "__main__":
    main()
