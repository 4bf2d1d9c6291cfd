"""Everything `nntrain` prints: rich tables and bars on a terminal, plain lines in logs and pipes.

Each function takes what a commands function returned and renders it; none of them computes anything.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

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


@dataclass
class Shown:
    """How a training command prints. mode: the progress display (bar, line or none); stream: where progress,
    messages and the summary go (stderr when stdout carries the --json document); quiet: stdout gets exactly the
    run folder; json: stdout gets exactly one JSON document."""

    mode: str
    stream: TextIO
    quiet: bool = False
    json: bool = False

    @property
    def summary(self) -> bool:
        """Whether the end-of-run summary is printed (on `stream`)."""
        return not self.quiet and not (self.json and self.mode == "none")

    def print(self, *renderables) -> None:
        console(stream=self.stream).print(*renderables)

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def message(self, text: str, failed: bool) -> None:
        """A run's closing message: failures on stderr (always), the rest (early stopping) unless -q."""
        if self.quiet and not failed:
            return
        stream = sys.stderr if failed else self.stream
        if self.mode == "bar":
            console(stream=stream).print(lit(text, "red" if failed else "yellow"), soft_wrap=True)
        else:
            print(text, file=stream, flush=True)

    def result(self, run_dir, document: dict) -> None:
        """What stdout gets with -q (the run folder) or --json (the document)."""
        if self.json:
            emit_json(document)
        elif self.quiet:
            print(run_dir, flush=True)


def download_progress(shown: Shown):
    """A data-download progress callback: a rich bar on a terminal, plain lines otherwise."""
    state = {}

    def report(done: int, total: int, description: str):
        if shown.mode == "none":
            return
        if shown.mode == "bar":
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                       TransferSpeedColumn)

            if "bar" not in state:
                state["bar"] = Progress(TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
                                        TransferSpeedColumn(), TimeRemainingColumn(), transient=False,
                                        console=console(stream=shown.stream))
                state["bar"].start()
                state["task"] = state["bar"].add_task(description, total=total or None)
            state["bar"].update(state["task"], completed=done)
            if total and done >= total:
                state.pop("bar").stop()
        elif description not in state:
            state[description] = True
            size = f" ({total / 1e6:.1f} MB)" if total else ""
            shown.line(f"downloading {description}{size}")

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
    table = Table(title=lit(f"{result.status} after {result.epochs} epochs: {result.run_dir}"))
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


def fit_report(result, document: dict, shown: Shown) -> None:
    """The end of `nntrain fit`: its message, stdout's run folder (-q) or JSON document, the summary."""
    if result.message:
        shown.message(result.message, bool(result.exit_code))
    shown.result(result.run_dir, document)
    if not shown.summary:
        return
    if shown.mode == "bar":
        shown.print(_fit_table(result))
    else:
        shown.line(end_of_run(result))
        shown.line(f"run folder: {result.run_dir}")


def fit_started(shown: Shown, run_dir, cfg, model) -> None:
    """The run folder (and on a terminal the model summary) once `nntrain fit` has created it."""
    if shown.mode == "bar":
        shown.print(styled((cfg["name"], "bold"), ": run folder ", (str(run_dir), "cyan")))
        console(stream=shown.stream).print(model.summary(), markup=False)
    elif shown.mode == "line":
        shown.line(f"{cfg['name']}: run folder {run_dir}")


class FoldDisplay:
    """k-fold progress: a rich bar per fold (mode bar), or one plain line per finished fold (mode line)."""

    def __init__(self, shown: Shown):
        self.shown = shown
        self.progress = None
        self.tasks = {}

    def start(self):
        if self.shown.mode != "bar":
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

        class LogsColumn(ProgressColumn):  # the logs as Text: a fold's message is shown as written
            def render(self, task):
                logs = task.fields["logs"]
                return lit(logs) if isinstance(logs, str) else logs

        self.progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), LogsColumn(), console=console(stream=self.shown.stream))
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
        elif self.shown.mode == "line" and kind == "end":
            extra = f" ({event['message']})" if event["message"] else ""
            self.shown.line(f"{label}: {event['status']} after {event['epochs']} epochs - "
                            f"{self._logs(event['final'])}{extra}")


def kfold_started(shown: Shown, run_dir, cfg, folds: int) -> None:
    if shown.mode == "bar":
        shown.print(styled((cfg["name"], "bold"), f": {folds}-fold cross-validation in ", (str(run_dir), "cyan")))
    elif shown.mode == "line":
        shown.line(f"{cfg['name']}: {folds}-fold cross-validation in {run_dir}")


def kfold_report(result, document: dict, shown: Shown) -> None:
    """The end of `nntrain kfold`: its message, stdout's run folder (-q) or JSON document, the summary table."""
    if result.message:
        if result.exit_code:
            print(("error: " if result.exit_code == 1 else "") + result.message, file=sys.stderr, flush=True)
        elif not shown.quiet:
            shown.line(result.message)
    shown.result(result.run_dir, document)
    if shown.summary:
        _kfold_summary(result, wide_console(shown.stream))


def _kfold_summary(result, out) -> None:
    s = result.summary
    if not s["metrics"]:
        out.print(lit(f"no fold finished; run folder: {result.run_dir}"))
        return
    from rich.table import Table

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


def check_report(config, cfg, model, prepared=None) -> None:
    """`nntrain check`: the resolved config, the model summary, (--data) the rows prepared, OK."""
    from nntrain.config import dump_yaml

    print(dump_yaml(cfg.resolved), end="")
    print()
    print(model.summary())
    if prepared is not None:
        b = prepared.bundle
        parts = [f"{len(part)} {what} rows" for part, what in ((b.train, "training"), (b.val, "validation"),
                                                                (b.test, "test")) if part is not None]
        print(f"\ndata: {', '.join(parts)}; inputs {b.info['inputs']}")
    print(f"\n{config}: OK{' (data prepared as fit would; nothing written)' if prepared is not None else ''}")


def export_report(result: dict) -> None:
    """What `nntrain export` wrote, in a few lines."""
    out = console()
    source = f"{result.get('source_run')} ({result.get('checkpoint')}, epoch {result.get('epoch')})"
    out.print(lit(f"exported {source}"), soft_wrap=True)
    if result.get("format") == "keras":
        what = f"Keras {result.get('keras_version')} {result.get('class_name')}, {len(result.get('layers', []))} layers"
    else:
        what = (f"ONNX opset {result.get('opset')}, "
                + ("raw values in: the preprocessing folded in" if result.get("preprocessing_folded")
                   else "the network alone: preprocessed inputs in"))
    out.print(lit(f"  {result.get('file')}  ({what})"), soft_wrap=True)
    if result.get("preprocessing"):
        out.print(lit(f"  {result['preprocessing']}  (preprocessing: scaling, vocabularies, class names)"),
                  soft_wrap=True)
