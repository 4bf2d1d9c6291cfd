"""`nntrain tune` and `nntrain lr-find`: parse, call commands/tune.py or commands/lrfind.py, render with
cli/tuning.py, exit. Registered on cli/app.py's `app` (which imports this module last), so app.py stays one page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from nntrain.cli import render
from nntrain.cli.app import JSON_HELP, PROGRESS_HELP, SET_HELP, _guard, _shown, app


@app.command()
def tune(
    config: Optional[Path] = typer.Argument(None, metavar="CONFIG", help="The YAML config with a `search:` section."),
    space: Optional[Path] = typer.Option(None, "--space", metavar="FILE", help="The search space in a file of its "
                                         "own (instead of the config's `search:`)."),
    trials: Optional[int] = typer.Option(None, "--trials", "-n", metavar="N", help="Trials to complete (default: "
                                         "search.trials, the grid's size, or 20)."),
    timeout: Optional[float] = typer.Option(None, "--timeout", metavar="SECONDS", help="Start no trial after this."),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="N", help="Seed of the sampler (default: the "
                                       "config's seed): the same search proposes the same trials."),
    jobs: int = typer.Option(1, "--jobs", "-j", metavar="N", help="Run trials in N parallel processes."),
    cv: Optional[int] = typer.Option(None, "--cv", metavar="K", help="Score each trial by the mean over K folds."),
    refit: bool = typer.Option(False, "--refit", help="Then train the best config on all training rows and evaluate "
                                                      "it on the test split."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=SET_HELP),
    name: Optional[str] = typer.Option(None, "--name", metavar="NAME", help="Tune folder name (default: the "
                                                                            "config's `name`)."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", metavar="DIR", help="Where the tune folder goes."),
    storage: Optional[str] = typer.Option(None, "--storage", metavar="URL", help="A shared study database "
                                          "(postgresql://user:pass@host/db) that workers on many machines use."),
    study: Optional[str] = typer.Option(None, "--study", metavar="NAME", help="The study's name in --storage "
                                                                             "(default: the tune name)."),
    resume: Optional[Path] = typer.Option(None, "--resume", metavar="TUNE_DIR", help="Continue this search."),
    show: Optional[Path] = typer.Option(None, "--show", metavar="TUNE_DIR", help="Print this search's leaderboard "
                                                                                "and exit."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Optuna's charts into TUNE_DIR/plots (plot extra)."),
    progress: str = typer.Option("auto", "--progress", metavar="MODE", help=PROGRESS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print exactly the tune folder on stdout."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Search hyperparameters: every trial is a real run in runs/NAME/trials/NNN, on an Optuna study
    (runs/NAME/study.db, or --storage). Writes leaderboard.csv, best.yaml (runs with `nntrain fit`) and plots.

    \b
    Examples:
      nntrain tune configs/california_search.yaml --trials 30 --jobs 2
      nntrain tune --resume runs/california_search
      nntrain tune --show runs/california_search
      nntrain tune cfg.yaml --storage postgresql://u:p@db/tuning --study wide   (on every machine)
    """
    from nntrain.cli import tuning
    from nntrain.commands import tune as tuner

    shown = _shown(progress, quiet, json_out)
    if show is not None:
        result = _guard(tuner.show, show, storage)
    else:
        lines = tuning.TrialLines(shown)

        def started(tune_dir, session):
            lines.objective = session.setup.search.objective
            tuning.tune_started(shown, tune_dir, session)

        result = _guard(tuner.tune, config, space_file=space, trials=trials, timeout=timeout, seed=seed, jobs=jobs,
                        cv=cv, refit=refit, overrides=set_, name=name, runs_dir=runs_dir, storage=storage,
                        study=study, resume=resume, plots=plots, on_trial=lines, on_start=started, command=sys.argv)
    tuning.tune_report(result, shown)
    raise typer.Exit(result.exit_code)


@app.command("lr-find")
def lr_find(
    config: Path = typer.Argument(..., metavar="CONFIG", help="The YAML config file."),
    start: float = typer.Option(1e-6, "--start", metavar="LR", help="The first learning rate."),
    end: float = typer.Option(10.0, "--end", metavar="LR", help="The last learning rate (the sweep stops earlier "
                                                                "when the loss diverges)."),
    steps: Optional[int] = typer.Option(None, "--steps", metavar="N", help="Steps of the sweep (default: one "
                                        "epoch, at least 100, at most 500)."),
    method: str = typer.Option("valley", "--suggest", metavar="METHOD", help="valley (default), steep or "
                                                                             "minimum/10."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="The PNG (default: "
                                          "RUNS_DIR/NAME-lr-find.png; needs the plot extra)."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", metavar="DIR", help="Where the default PNG goes."),
    no_plot: bool = typer.Option(False, "--no-plot", help="Write no PNG."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=SET_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the suggestions and the whole curve as JSON."),
):
    """The learning-rate range test: train briefly while the learning rate grows from --start to --end, plot the
    smoothed loss against it and suggest a rate. Creates no run.

    \b
    Examples:
      nntrain lr-find configs/iris.yaml
      nntrain lr-find configs/boston_housing.yaml --suggest steep --json > curve.json
    """
    from nntrain.cli import tuning
    from nntrain.commands.lrfind import lr_find as find

    def default_png():
        from nntrain.config import load_config

        return runs_dir / f"{load_config(config, set_)['name']}-lr-find.png"

    plot = None if no_plot else output if output is not None else _guard(default_png)
    result = _guard(find, config, set_, start=start, end=end, steps=steps, method=method, plot=plot)
    if json_out:
        return render.emit_json(result.document(config))
    tuning.lr_find_report(result, config)

