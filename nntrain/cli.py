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
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


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
    from nntrain.experiment import absolute_data_paths, prepare

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
        table.add_column(col)
    for r in rows:
        table.add_row(str(r.get("name")), str(r.get("source")), str(r.get("task")), str(r.get("rows", "")),
                      str(r.get("shape", "")), str(r.get("classes", "") or ""),
                      "yes" if r.get("cached", r.get("source") == "bundled") else "download")
    _console().print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
