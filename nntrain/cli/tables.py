"""The tables `nntrain` prints: datasets, an evaluation report, a few predictions, the runs. Each takes what a
commands function returned and renders it with rich; user text is printed literally (see render.lit)."""

from __future__ import annotations

from nntrain.cli.render import console, fmt, lit, styled, wide_console


def datasets_table(rows: list[dict]) -> None:
    from rich.table import Table

    table = Table(title="datasets")
    for col in ("name", "source", "task", "rows", "x shape", "classes", "available"):
        table.add_column(col, no_wrap=col == "name", justify="right" if col in ("rows", "classes") else "left")
    for r in rows:
        n = r.get("rows", "")
        table.add_row(*map(lit, (r.get("name"), r.get("source"), r.get("task"), f"{n:,}" if isinstance(n, int) else n,
                                 r.get("shape", ""), r.get("classes", "") or "",
                                 "yes" if r.get("cached", r.get("source") == "bundled") else "download")))
    console().print(table)


def _class_tables(out_console, label: str, out: dict) -> None:
    """Confusion matrix and per-class precision/recall/F1 of one classification output."""
    from rich.table import Table

    names = out["class_names"]
    out_console.print(styled("\n", (f"{label}confusion matrix", "bold"), " (rows: true class, columns: predicted)"))
    cm = Table()
    cm.add_column("true \\ predicted")
    for c in names:
        cm.add_column(lit(c), justify="right")
    for c, row in zip(names, out["confusion_matrix"]):
        cm.add_row(lit(c), *map(str, row))
    out_console.print(cm)
    out_console.print(styled("\n", (f"{label}per class", "bold"), f" (accuracy {fmt(out['accuracy'])})"))
    pc = Table()
    for col in ("class", "precision", "recall", "f1", "support"):
        pc.add_column(col, justify="left" if col == "class" else "right")
    for c in out["per_class"]:
        pc.add_row(lit(c["class"]), fmt(c["precision"]), fmt(c["recall"]), fmt(c["f1"]), str(c["support"]))
    for avg in ("macro_avg", "weighted_avg"):
        a = out[avg]
        pc.add_row(avg.replace("_", " "), fmt(a["precision"]), fmt(a["recall"]), fmt(a["f1"]), "")
    out_console.print(pc)


def _output_tables(out_console, label: str, out: dict) -> None:
    from rich.table import Table

    if "confusion_matrix" in out:
        _class_tables(out_console, label, out)
    elif "per_label" in out:
        out_console.print(styled("\n", (f"{label}per label", "bold")))
        pl = Table()
        for col in ("label", "precision", "recall", "f1", "support"):
            pl.add_column(col, justify="left" if col == "label" else "right")
        for c, m in out["per_label"].items():
            pl.add_row(lit(c), fmt(m["precision"]), fmt(m["recall"]), fmt(m["f1"]), str(m["support"]))
        out_console.print(pl)
    elif "mae" in out:
        out_console.print(styled("\n", (f"{label}regression", "bold"), f" ({out['units']} units)"))
        rg = Table()
        for col in ("MAE", "MSE", "RMSE", "R^2"):
            rg.add_column(col, justify="right")
        rg.add_row(fmt(out["mae"]), fmt(out["mse"]), fmt(out["rmse"]), fmt(out["r2"]))
        out_console.print(rg)


def evaluation(result) -> None:
    """`nntrain evaluate`: metrics, then per output a confusion matrix / per-label / regression table."""
    from rich.table import Table

    r = result.report
    out_console = console()
    if r.get("note"):
        out_console.print(lit(r["note"], "yellow"))
    out_console.print(styled((r["data"], "bold"), f": {r['rows']} rows, {r['checkpoint']} checkpoint "
                                                 f"(epoch {r['epoch']}), batch size {r['batch_size']}"))
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in r["metrics"].items():
        table.add_row(lit(k), fmt(v))
    out_console.print(table)
    for name, out in r["outputs"].items():
        _output_tables(out_console, "" if len(r["outputs"]) == 1 else f"{name}: ", out)
    out_console.print(styled("written: ", (str(result.path), "cyan")))


def prediction_notes(result) -> None:
    """What stderr says about a prediction: the checkpoint used instead of the one asked for, skipped blank lines,
    where a file was written."""
    notes = console(stderr=True)
    if result.note:
        notes.print(lit(result.note, "yellow"), soft_wrap=True)
    if result.skipped:
        notes.print(lit(f"skipped {result.skipped} blank line{'s' if result.skipped > 1 else ''} of the input"),
                    soft_wrap=True)
    if result.output not in (None, "-"):
        notes.print(styled(f"{result.rows} predictions written to ", (str(result.output), "cyan")), soft_wrap=True)


def predictions(result) -> None:
    """`nntrain predict`: the table of predictions (on a terminal), else only the notes: the data went to a file
    or to stdout."""
    from rich.table import Table

    prediction_notes(result)
    if result.table is None:
        return
    console().print(styled((f"{result.rows} predictions", "bold"), f" ({result.checkpoint})"))
    table = Table()
    first = result.table[0] if result.table else [0] * len(result.columns)
    for col, value in zip(result.columns, first):
        table.add_column(lit(col), justify="right" if isinstance(value, (int, float)) else "left")
    for row in result.table:
        table.add_row(*[lit(fmt(v)) for v in row])
    console().print(table)


def runs_table(rows: list, runs_dir, columns: list[str]) -> None:
    """`nntrain runs`: one row per run folder, one column per metric name."""
    from rich.table import Table

    table = Table(title=lit(f"{len(rows)} runs in {runs_dir}"),
                  caption=lit("metrics of the epoch shown: the one restore_best_weights kept, else best.h5's (what "
                              "evaluate and predict use); k-fold: mean of the folds' best; test_: nntrain evaluate"))
    for col in ("name", "date", "dataset", "params", "epochs", "epoch", *columns, "status"):
        table.add_column(lit(col), justify="left" if col in ("name", "date", "dataset", "status") else "right",
                         no_wrap=col in ("date", "status"), overflow="fold", min_width=min(len(col), 12))
    colors = {"finished": "green", "failed": "red", "interrupted": "yellow", "partial": "yellow"}
    for r in rows:
        name = r.name if r.kind == "run" else f"{r.name} ({r.kind})"
        epoch = "mean" if r.kind != "run" else fmt(r.epoch) + (" kept" if r.restored else "")
        table.add_row(*map(lit, (name, r.date, r.dataset, f"{r.params:,}" if r.params is not None else "-",
                                 fmt(r.epochs), epoch, *(fmt(r.metrics.get(c)) for c in columns))),
                      lit(r.status, colors.get(r.status, "")))
    wide_console().print(table)
