"""What `nntrain tune` and `nntrain lr-find` print: one line per finished trial (styled on a terminal, plain in
logs and pipes), the leaderboard, the best config and how to use it; the learning-rate finder's suggestions."""

from __future__ import annotations

import sys

from nntrain.cli.render import Shown, console, fmt, lit, styled, wide_console

STATE_STYLES = {"complete": "green", "pruned": "yellow", "failed": "red", "interrupted": "yellow",
                "running": "cyan"}
SHOWN_ROWS = 15  # the leaderboard printed at the end; leaderboard.csv and --json have every trial


def short(path: str) -> str:
    """A parameter's column name: the last two parts of its key path (`Dense.units`, `repeat.times`)."""
    return ".".join(path.split(".")[-2:])


def _params(params: dict) -> str:
    return " ".join(f"{short(k)}={fmt(v)}" for k, v in params.items())


class TrialLines:
    """One line per finished trial, as the search goes: a rich styled line on a terminal, plain text otherwise;
    refit progress as one line when it ends."""

    def __init__(self, shown: Shown, objective: str = "value"):
        self.shown, self.objective = shown, objective

    def __call__(self, event: dict) -> None:
        if self.shown.mode == "none":
            return
        if event.get("type") == "end" and event.get("fold") == "refit":
            self.shown.line(f"refit: {event['status']} after {event['epochs']} epochs")
            return
        if event.get("type") != "trial":
            return
        best = event["best"]
        if event["value"] is not None:
            value = f"{self.objective}={fmt(event['value'])}"
        elif event["state"] == "interrupted":
            value = "discarded: --resume runs it again"
        else:
            value = event["message"][:100]
        best_text = f"best {fmt(best['value'])} (trial {best['number']})" if best else "no best yet"
        head = f"trial {event['number']:>3} [{event['done']}/{event['target']}] "
        rest = (f"  {value}  {best_text}  {_params(event['params'])}  {event['epochs']} epochs "
                f"{event['seconds']:.1f}s")
        if self.shown.mode == "bar":
            self.shown.print(styled(head, (f"{event['state']:<11}", STATE_STYLES.get(event["state"], "")), rest))
        else:
            self.shown.line(f"{head}{event['state']:<11}{rest}")


def tune_started(shown: Shown, tune_dir, session) -> None:
    if shown.mode == "none":
        return
    s = session.setup
    text = (f"{session.name}: {session.target} trials of {len(s.search.params)} parameters, "
            f"{s.search.sampler['name']} sampler, {s.search.pruner['name']} pruner, objective {s.search.objective} "
            f"({'max' if s.direction == 'up' else 'min'}) in {tune_dir}")
    shown.print(lit(text)) if shown.mode == "bar" else shown.line(text)


def tune_report(result, shown: Shown) -> None:
    """The end of `nntrain tune` (and `--show`): message, stdout's folder (-q) or JSON, the leaderboard."""
    doc = result.document
    if result.message:
        print(("error: " if result.exit_code == 1 else "") + result.message, file=sys.stderr, flush=True)
    shown.result(result.tune_dir, doc)
    if not shown.summary:
        return
    out = wide_console(shown.stream)
    leaderboard_table(doc, out)
    best = doc.get("best")
    if best is None:
        out.print(lit(f"no trial completed yet: {result.tune_dir}"))
        return
    out.print(styled(("best", "bold"), f": trial {best['trial']} {doc['objective']}={fmt(best['value'])}  "
                     f"{_params(best['params'])}  ({best['where']})"))
    if doc.get("best_config"):
        out.print(styled("train it: ", (f"nntrain fit {doc['best_config']}", "cyan")))
    refit = doc.get("refit")
    if refit:
        test = ", ".join(f"{k}={fmt(v)}" for k, v in (refit.get("test") or {}).items())
        out.print(lit(f"refit on all training rows for {refit['epochs']} epochs: {refit['status']}"
                      + (f"; test: {test}" if test else "")))
    for path in doc.get("plots") or []:
        out.print(styled("plot: ", (path, "cyan")))


def leaderboard_table(doc: dict, out=None) -> None:
    from rich.table import Table

    out = out or console()
    counts = ", ".join(f"{n} {s}" for s, n in doc["counts"].items() if n)
    rows = doc["trials"][:SHOWN_ROWS]
    params = list(dict.fromkeys(k for r in rows for k in r["params"]))
    table = Table(title=lit(f"{doc['study']}: {counts or 'no trials'} (target {doc['target']})"))
    for col in ("trial", "state", doc["objective"], *map(short, params), "epochs", "where"):
        table.add_column(lit(col), justify="left" if col in ("state", "where") else "right")
    for r in rows:
        table.add_row(str(r["trial"]), lit(r["state"], STATE_STYLES.get(r["state"], "")), fmt(r["value"]),
                      *(fmt(r["params"].get(k)) for k in params), fmt(r["epochs"]), lit(r["where"]))
    out.print(table)
    if len(doc["trials"]) > SHOWN_ROWS:
        out.print(lit(f"... {len(doc['trials']) - SHOWN_ROWS} more in leaderboard.csv"))


def lr_find_report(result, config) -> None:
    """The sweep, each suggestion (the chosen one marked) and how to apply it."""
    out = console()
    out.print(lit(f"learning-rate range test: {len(result.lrs)} of {result.steps} steps from {result.start:g}; "
                  f"{result.stopped}"))
    if not result.suggestions:
        out.print(lit("the curve is too short to suggest a rate: give more --steps or a larger --end"))
        return
    for name, lr in result.suggestions.items():
        chosen = name == result.method
        out.print(styled(f"  {name:<11} ", (f"{lr:.3g}", "bold green" if chosen else ""),
                         "  (suggested)" if chosen else ""))
    out.print(styled("apply it: ", (f"nntrain fit {config} --set optimizer.learning_rate={result.suggested:.3g}",
                                    "cyan")))
    if result.plot:
        out.print(styled("plot: ", (result.plot, "cyan")))
