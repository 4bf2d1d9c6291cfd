"""Everything `nntrain` prints: rich tables and bars on a terminal, plain lines in logs and pipes.

Each function takes what a commands function returned and renders it; none of them computes anything.
"""

from __future__ import annotations

import sys

def console(stderr: bool = False, stream=None):
    """A rich console on stdout (stderr, or `stream`); off a terminal (logs, pipes) tables get 120 columns instead
    of rich's 80. Emoji codes are off: `:fire:` in a name or a path prints as typed."""
    from rich.console import Console

    stream = stream or (sys.stderr if stderr else sys.stdout)
    return Console(file=stream, highlight=False, emoji=False, width=None if stream.isatty() else 120)


def wide_console(stream=None):
    """A console for wide tables: piped output gets each table at its natural width, never cut (terminals keep
    their width)."""
    out = console(stream=stream)
    if not out.is_terminal:
        out.width = 1000
    return out


def lit(value, style: str = ""):
    """`value` as rich Text: printed literally, never read as markup (`[bold]`) or emoji (`:fire:`)."""
    from rich.text import Text

    return Text(str(value), style=style)


def styled(*parts):
    """Text from pieces, each a plain string or (string, style); no piece is ever read as markup."""
    from rich.text import Text

    return Text.assemble(*parts)


def emit_json(document) -> None:
    """The one JSON document of a `--json` command, on stdout (NaN and infinities as null, as in run folders)."""
    from nntrain.runs.folder import json_text

    sys.stdout.write(json_text(document))
    sys.stdout.flush()


def fmt(v) -> str:
    import math

    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return str(v)


def download_progress(mode: str):
    """A data-download progress callback: a rich bar on a terminal, plain lines otherwise."""
    state = {}

    def report(done: int, total: int, description: str):
        if mode == "none":
            return
        if mode == "bar":
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                       TransferSpeedColumn)

            if "bar" not in state:
                state["bar"] = Progress(TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
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


def end_of_run(result) -> str:
    """The end-of-run line: how many epochs ran and the metrics of the weights the model kept (restore_best_weights
    may have put an earlier epoch back; the last epoch's values are in history.csv)."""
    kept = result.metrics.get("kept")
    head = f"{result.status} after {result.epochs} epochs"
    if not kept:
        return head
    values = ", ".join(f"{k}={fmt(v)}" for k, v in kept["metrics"].items())
    if kept["restored_best_weights"]:
        return f"{head}; the model keeps the weights of epoch {kept['epoch']} (restore_best_weights): {values}"
    return f"{head}: {values}"


def _fit_table(result):
    """The end-of-run table (bar mode): per metric the kept epoch's value (when not the last), the last epoch's, the
    best and its epoch."""
    from rich.table import Table

    m = result.metrics
    kept = m.get("kept") or {}
    restored = kept.get("restored_best_weights")
    table = Table(title=lit(f"{end_of_run(result).split(':')[0]}: {result.run_dir}"))
    table.add_column("metric")
    if restored:
        table.add_column(f"kept (epoch {kept['epoch']})", justify="right")
    table.add_column(f"last (epoch {m.get('epochs')})", justify="right")
    table.add_column("best", justify="right")
    table.add_column("best epoch", justify="right")
    for k, last in m.get("final", {}).items():
        if k in ("seconds", "learning_rate"):
            continue
        b = m["best"].get(k, {})
        cells = [fmt(kept["metrics"].get(k))] if restored else []
        table.add_row(lit(k), *cells, fmt(last), fmt(b.get("value")), str(b.get("epoch", "")))
    return table


def fit_report(result, mode: str, quiet: bool) -> None:
    if result.message:
        style = "red" if result.exit_code else "yellow"
        stream = sys.stderr if result.exit_code else sys.stdout
        if mode == "bar":
            console(stderr=bool(result.exit_code)).print(lit(result.message, style))
        else:
            print(result.message, file=stream, flush=True)
    if quiet:
        print(result.run_dir)
        return
    if mode == "none":
        return
    if mode == "bar":
        console().print(_fit_table(result))
    else:
        print(end_of_run(result), flush=True)
        print(f"run folder: {result.run_dir}", flush=True)


class FoldDisplay:
    """k-fold progress: a rich bar per fold (mode bar), or one plain line per finished fold (mode line)."""

    def __init__(self, mode: str, metric_keys=("val_loss",)):
        self.mode = mode
        self.progress = None
        self.tasks = {}

    def start(self):
        if self.mode != "bar":
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

        class LogsColumn(ProgressColumn):  # the logs as Text: a fold's message is shown as written
            def render(self, task):
                logs = task.fields["logs"]
                return lit(logs) if isinstance(logs, str) else logs

        self.progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), LogsColumn(), console=console())
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
                self.progress.update(self.tasks[fold], logs=styled((event["status"], style),
                                                                   f" {self._logs(event['final'])} {event['message']}"))
        elif self.mode == "line" and kind == "end":
            extra = f" ({event['message']})" if event["message"] else ""
            print(f"{label}: {event['status']} after {event['epochs']} epochs - {self._logs(event['final'])}{extra}",
                  flush=True)


def kfold_report(result, mode: str, quiet: bool) -> None:
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

    out = wide_console()
    out.print(styled((f"{s['folds']}-fold {s['status']}", "bold"), f": {result.run_dir}"))
    table = Table()
    table.add_column("metric")
    table.add_column("final mean ± std", justify="right")
    table.add_column("best mean ± std", justify="right")
    for k, m in s["metrics"].items():
        table.add_row(lit(k), f"{fmt(m['final_mean'])} ± {fmt(m['final_std'])}",
                      f"{fmt(m['best_mean'])} ± {fmt(m['best_std'])}")
    out.print(table)
    best = s.get("best_epoch")
    if best:
        out.print(lit(f"averaged {best['monitor']} is best at epoch {best['epoch']} ({fmt(best['value'])})"))
    refit = s.get("refit")
    if refit:
        test = ", ".join(f"{k}={fmt(v)}" for k, v in (refit.get("test") or {}).items())
        out.print(lit(f"refit on all training rows for {refit['epochs']} epochs: {refit['status']}"
                      + (f"; test: {test}" if test else "")))
    out.print(styled("written: ", (str(result.run_dir / "kfold.json"), "cyan"), ", ",
                     (str(result.run_dir / "kfold.csv"), "cyan")))


def fit_started(mode: str, run_dir, cfg, model) -> None:
    """The run folder (and on a terminal the model summary) once `nntrain fit` has created it."""
    if mode == "none":
        return
    if mode == "bar":
        console().print(styled((cfg["name"], "bold"), ": run folder ", (str(run_dir), "cyan")))
        console().print(model.summary(), markup=False)
    else:
        print(f"{cfg['name']}: run folder {run_dir}", flush=True)


def kfold_started(mode: str, run_dir, cfg, folds: int) -> None:
    if mode == "bar":
        console().print(styled((cfg["name"], "bold"), f": {folds}-fold cross-validation in ", (str(run_dir), "cyan")))
    elif mode == "line":
        print(f"{cfg['name']}: {folds}-fold cross-validation in {run_dir}", flush=True)


def check_report(config, cfg, model) -> None:
    """`nntrain check`: the resolved config, the model summary, OK."""
    from nntrain.config import dump_yaml

    print(dump_yaml(cfg.resolved), end="")
    print()
    print(model.summary())
    print(f"\n{config}: OK")
