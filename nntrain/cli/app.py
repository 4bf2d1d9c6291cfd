"""The `nntrain` commands: parse arguments, call a commands function, hand its result to cli/render.py, exit.

Errors a user can fix (nntrain.errors) print as one red paragraph and exit with code 2; no traceback.
Heavy modules (engine, h5py, data loaders, plotting) are imported inside commands, so --help stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from nntrain.cli import render, tables

app = typer.Typer(
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish and PowerShell
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

SET_HELP = "Override a config value: --set training.epochs=50 (repeatable)."
PROGRESS_HELP = "auto (bar on a terminal, one line per epoch otherwise), bar, line or none."
CHECKPOINT_HELP = "best (default; last when the run had no validation set) or last."
QUIET_HELP = "Print exactly the run folder on stdout; errors on stderr; no progress."
JSON_HELP = "Print one JSON document on stdout and nothing else there (progress and warnings go to stderr)."


def _version(value: bool) -> None:
    if value:
        from nntrain import __version__

        print(f"nntrain {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print nntrain's version and exit.")):
    """Train Keras-style neural networks from one YAML file, on nntrain's own NumPy engine.

    \b
    Examples:
      nntrain fit configs/iris.yaml
      nntrain evaluate runs/iris
      nntrain runs --json
    """


def fail(exc: Exception, code: int = 2) -> None:
    """Print a user error as one red paragraph and exit."""
    render.console(stderr=True).print(render.styled(("error:", "bold red"), f" {exc}"), soft_wrap=True)
    raise typer.Exit(code)


def _stopped(exc: KeyboardInterrupt) -> int:
    """One line for a Ctrl-C or SIGTERM that stopped a command before it had anything to report; its exit code."""
    from nntrain.interrupts import Terminated, exit_code

    render.console(stderr=True).print("terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted")
    return exit_code(exc)


def _guard(fn, *args, **kwargs):
    from nntrain.errors import NNTrainError

    try:
        return fn(*args, **kwargs)
    except NNTrainError as exc:
        fail(exc)
    except KeyboardInterrupt as exc:  # before training started (loading, downloading): nothing to keep
        raise typer.Exit(_stopped(exc))


def _shown(progress: str, quiet: bool, json_out: bool) -> render.Shown:
    """How a training command prints: `auto` progress becomes `bar` on a terminal and `line` otherwise; with --json
    progress, messages and the summary go to stderr, so stdout holds the JSON document alone."""
    from nntrain.training.progress import MODES, resolve_mode

    if progress not in MODES:
        from nntrain.errors import ConfigError

        fail(ConfigError(f"--progress expects one of {', '.join(MODES)}, got {progress!r}"))
    stream = sys.stderr if json_out else sys.stdout
    return render.Shown("none" if quiet else resolve_mode(progress, stream), stream, quiet, json_out)


@app.command()
def fit(
    config: Optional[Path] = typer.Argument(None, metavar="CONFIG", help="The YAML config file."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=SET_HELP),
    name: Optional[str] = typer.Option(None, "--name", metavar="NAME", help="Run name (default: the config's "
                                                                            "`name`)."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", metavar="DIR", help="Where run folders go."),
    resume: Optional[Path] = typer.Option(None, "--resume", metavar="RUN_DIR",
                                          help="Continue the run in this folder from its last checkpoint (exactly)."),
    weights: Optional[Path] = typer.Option(None, "--weights", metavar="CHECKPOINT",
                                           help="Start from another run's checkpoint or a Keras .keras/.h5 "
                                                "file, matching layers by name."),
    progress: str = typer.Option("auto", "--progress", metavar="MODE", help=PROGRESS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Train the model a config describes; write config, history, metrics and checkpoints to runs/NAME/.

    \b
    Examples:
      nntrain fit configs/iris.yaml --set training.epochs=100
      nntrain fit configs/iris.yaml -q --json > result.json
    """
    from nntrain.commands.fit import fit as fit_run
    from nntrain.commands.fit import fit_document
    from nntrain.training.progress import ProgressDisplay

    shown = _shown(progress, quiet, json_out)
    result = _guard(fit_run, config, overrides=set_, runs_dir=runs_dir, name=name, resume=resume, weights=weights,
                    display=ProgressDisplay(shown.mode, stream=shown.stream),
                    download_progress=render.download_progress(shown), command=sys.argv,
                    on_start=lambda run_dir, cfg, model: render.fit_started(shown, run_dir, cfg, model))
    render.fit_report(result, fit_document(result), shown)
    raise typer.Exit(result.exit_code)


@app.command()
def check(
    config: Path = typer.Argument(..., metavar="CONFIG", help="The YAML config file."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=SET_HELP),
    data: bool = typer.Option(False, "--data", help="Also load the data and run fit's whole preparation (widths, "
                              "labels, monitors, class weights...), writing nothing: what passes, fit trains."),
):
    """Validate a config and print it resolved (all defaults filled in) with the model summary.
    Loads and downloads no data, unless --data.

    \b
    Examples:
      nntrain check configs/iris.yaml --set optimizer.learning_rate=3e-4
      nntrain check my.yaml --data
    """
    from nntrain.commands.prepare import check as check_config
    from nntrain.commands.prepare import check_data

    if data:
        cfg, prepared = _guard(check_data, config, set_)
        render.check_report(config, cfg, prepared.model, prepared)
    else:
        cfg, model = _guard(check_config, config, set_)
        render.check_report(config, cfg, model)


@app.command()
def schema():
    """Print the JSON Schema of the config format (for VS Code YAML, JetBrains and other editors).

    \b
    Example:
      nntrain schema > nntrain.schema.json
    """
    import json

    from nntrain.config.schema import config_schema

    print(json.dumps(config_schema(), indent=2))


@app.command()
def datasets(json_out: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """List the bundled datasets and the Keras catalogue ones, with shapes and tasks.

    \b
    Examples:
      nntrain datasets
      nntrain datasets --json
    """
    from nntrain.data import list_datasets

    found = _guard(list_datasets)
    render.emit_json(found) if json_out else tables.datasets_table(found)


@app.command()
def evaluate(
    run: Path = typer.Argument(..., metavar="RUN", help="A run folder (runs/NAME) or a checkpoint file."),
    checkpoint: str = typer.Option("best", "--checkpoint", metavar="best|last", help=CHECKPOINT_HELP),
    data: Optional[Path] = typer.Option(None, "--data", metavar="FILE", help="Evaluate on another config's data "
                                        "(.yaml) or a data file laid out like the training data."),
    split: str = typer.Option("test", "--split", metavar="test|val|train",
                              help="Which split of the run's data (or of --data's config)."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Loss and metrics of a trained run on its test split (or val/train, or other data), with a confusion matrix
    and per-class precision/recall/F1 (classification) or MAE/MSE/RMSE/R^2 (regression).
    Writes evaluation-SPLIT-CHECKPOINT.json into the run folder.

    \b
    Examples:
      nntrain evaluate runs/iris
      nntrain evaluate runs/iris --split val --checkpoint last --json
    """
    from nntrain.commands.evaluate import evaluate as evaluate_run

    result = _guard(evaluate_run, run, checkpoint=checkpoint, data=data, split=split)
    if json_out:
        if result.report.get("note"):
            render.console(stderr=True).print(render.lit(result.report["note"], "yellow"), soft_wrap=True)
        return render.emit_json({**result.report, "path": str(result.path)})
    tables.evaluation(result)


@app.command()
def predict(
    run: Path = typer.Argument(..., metavar="RUN", help="A run folder (runs/NAME) or a checkpoint file."),
    input: Path = typer.Argument(..., metavar="INPUT", help="New data: .csv or .tsv (the training feature columns, "
                                                            "raw), .npy, .npz, .h5, or .txt (one document per line)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE",
                                         help="Write the predictions to FILE (.csv, .jsonl, .npy), or - for stdout."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="csv|jsonl|npy",
                                      help="The output format (default: from FILE's suffix, else csv)."),
    keep: List[str] = typer.Option([], "--keep", metavar="COLUMN",
                                   help="Carry this input column (an id) into the output (repeatable; a,b works)."),
    proba: bool = typer.Option(False, "--proba", help="Add one probability column per class."),
    top_k: Optional[int] = typer.Option(None, "--top-k", metavar="K",
                                        help="Add the K most likely classes and probabilities."),
    checkpoint: str = typer.Option("best", "--checkpoint", metavar="best|last", help=CHECKPOINT_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary (rows, output, columns) on stdout; "
                                                        "the predictions go to -o FILE."),
):
    """Predict new data with a trained run, applying its stored preprocessing. On a terminal the predictions print
    as a table; piped or redirected, stdout gets CSV with a header (or --format jsonl/npy); -o FILE writes a file.

    \b
    Examples:
      nntrain predict runs/iris new_flowers.csv --proba
      nntrain predict runs/iris new_flowers.csv --keep id | sort -t, -k3
      nntrain predict runs/iris new_flowers.csv -o predictions.jsonl --keep id
    """
    from nntrain.commands.predict import predict as predict_rows
    from nntrain.errors import DataError

    if output is None and (json_out or fmt is not None or not sys.stdout.isatty()):
        output = None if json_out else "-"  # piped, or a format asked for: stdout gets the data itself
    if json_out and output in (None, "-"):
        fail(DataError("--json prints a summary on stdout; give -o FILE for the predictions"))
    if output == "-" and fmt == "npy" and sys.stdout.isatty():
        fail(DataError("npy is binary: give -o FILE, or pipe it (`> file.npy`)"))
    keep = [c.strip() for item in keep for c in item.split(",") if c.strip()]
    result = _guard(predict_rows, run, input, output=output, fmt=fmt, keep=keep, proba=proba, top_k=top_k,
                    checkpoint=checkpoint)
    if json_out:
        tables.prediction_notes(result)
        return render.emit_json(result.summary())
    tables.predictions(result)


@app.command()
def kfold(
    config: Path = typer.Argument(..., metavar="CONFIG", help="The YAML config file."),
    folds: int = typer.Option(..., "--folds", "-k", metavar="K", help="Number of folds K (2 .. training rows)."),
    stratify: bool = typer.Option(False, "--stratify", help="Keep class proportions in every fold."),
    jobs: int = typer.Option(1, "--jobs", "-j", metavar="N", help="Train folds in N parallel processes (same "
                                                                  "results)."),
    refit: bool = typer.Option(False, "--refit", help="Then train on all training rows for the best averaged epoch "
                                                      "count and evaluate on the test split."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=SET_HELP),
    name: Optional[str] = typer.Option(None, "--name", metavar="NAME", help="Run name (default: the config's "
                                                                            "`name`)."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", metavar="DIR", help="Where run folders go."),
    progress: str = typer.Option("auto", "--progress", metavar="MODE", help=PROGRESS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """K-fold cross-validation: a fresh model per fold, trained on K-1 parts and validated on the held-out one.
    Writes runs/NAME/fold-1..K (normal run folders) and kfold.json / kfold.csv with mean +- std per metric, the
    averaged validation curve and its best epoch.

    \b
    Examples:
      nntrain kfold configs/boston_housing_kfold.yaml --folds 4
      nntrain kfold configs/iris.yaml -k 5 --stratify --jobs 2 --refit
    """
    from nntrain.commands.kfold import kfold as kfold_run
    from nntrain.commands.kfold import kfold_document

    shown = _shown(progress, quiet, json_out)
    display = render.FoldDisplay(shown)

    def started(run_dir, cfg):
        render.kfold_started(shown, run_dir, cfg, folds)
        display.start()

    try:  # _guard turns Ctrl-C before the folds start (config, data loading) into exit 130
        result = _guard(kfold_run, config, folds, stratify=stratify, jobs=jobs, refit=refit, overrides=set_,
                        runs_dir=runs_dir, name=name, on_event=display, command=sys.argv, on_start=started)
    finally:
        display.stop()
    render.kfold_report(result, kfold_document(result), shown)
    raise typer.Exit(result.exit_code)


@app.command()
def plot(run: Path = typer.Argument(..., metavar="RUN", help="A run, k-fold or tune folder.")):
    """PNG charts into the run folder: learning curves (training vs validation), the learning rate when it
    changed, k-fold averaged curves with per-fold spread, and confusion matrices of `nntrain evaluate`.

    \b
    Example:
      nntrain plot runs/iris
    """
    from nntrain.commands.plot import plot_run

    for path in _guard(plot_run, run):
        print(path)


@app.command("runs")
def runs_cmd(
    runs_dir: Path = typer.Argument(Path("runs"), metavar="RUNS_DIR", help="The folder holding run folders."),
    sort: Optional[str] = typer.Option(None, "--sort", metavar="COLUMN", help="date (default), name, params, "
                                       "epochs, status, or any metric column: val_loss, val_accuracy, test_mae..."),
    clean: bool = typer.Option(False, "--clean", help="First remove temporary files left by killed processes and "
                                                      "run folders that never got a checkpoint."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """A table of the runs: name, date, dataset, parameters, epochs, status, and one column per metric (val_loss,
    val_accuracy, test_mae...) with the values of the epoch the run kept.

    \b
    Examples:
      nntrain runs
      nntrain runs runs/ --sort val_accuracy --json
      nntrain runs --clean
    """
    from nntrain.runs.table import columns, list_runs

    if clean:
        from nntrain.runs import clean as clean_runs

        for path in _guard(clean_runs, runs_dir):
            print(f"removed {path}", file=sys.stderr if json_out else sys.stdout)
    rows = _guard(list_runs, runs_dir, sort=sort)
    if json_out:
        return render.emit_json([r.as_dict() for r in rows])
    tables.runs_table(rows, runs_dir, columns(rows, sort))


from nntrain.cli import interop_app, tuning_app  # noqa: E402,F401 - register their commands on `app`


def main() -> None:
    """The console script (click ends a command whose reader closed the pipe with exit code 1, no traceback).

    Ctrl-C and SIGTERM follow nntrain.interrupts from here on; one that lands outside a command's own handling
    (while modules import, while a result prints) still ends with one line and 130 or 143, where typer would exit
    130 silently. Once the command has ended both are ignored, so one arriving while Python shuts down cannot kill
    the process with the signal's default action."""
    import warnings

    from nntrain import interrupts

    interrupts.install()
    # NumPy's floating-point RuntimeWarnings print a source line; nntrain reports what they mean itself (a diverging
    # loss, a NaN in the data, an overflowing value) as one message
    warnings.filterwarnings("ignore", r"(overflow|invalid value|divide by zero|underflow) encountered", RuntimeWarning)
    shown, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        app()
    except KeyboardInterrupt as exc:  # while typer builds the command, before click's own handling
        raise SystemExit(_stopped(exc)) from None
    except SystemExit as exc:
        cause = getattr(exc.__context__, "__cause__", None)  # typer: raise Exit(130) from the KeyboardInterrupt
        if isinstance(cause, KeyboardInterrupt):
            raise SystemExit(_stopped(cause)) from None
        raise
    finally:
        warnings.showwarning = shown
        interrupts.ignore()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """nntrain's DataWarnings as one `warning:` line on stderr; any other warning as Python shows it."""
    import sys
    import warnings

    from nntrain.errors import DataWarning

    if issubclass(category, DataWarning):
        print(f"warning: {message}", file=sys.stderr, flush=True)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), file=file or sys.stderr, end="")
