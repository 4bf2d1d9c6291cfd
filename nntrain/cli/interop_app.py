"""`nntrain export` and `nntrain import`: parse, call commands/export.py or commands/keras_import.py, render,
exit. Registered on cli/app.py's `app` (which imports this module last), as cli/tuning_app.py is."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from nntrain.cli import render
from nntrain.cli.app import CHECKPOINT_HELP, JSON_HELP, _guard, app


@app.command()
def export(
    run: Path = typer.Argument(..., metavar="RUN", help="A run folder (runs/NAME) or a checkpoint file."),
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE", help="The file: .keras, .h5 or .onnx."),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="keras|onnx", help="Default: from FILE's suffix."),
    checkpoint: str = typer.Option("best", "--checkpoint", metavar="best|last", help=CHECKPOINT_HELP),
    preprocessing: bool = typer.Option(True, "--preprocessing/--no-preprocessing",
                                       help="ONNX: fold the fitted preprocessing into the graph (raw values in)."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Write a trained model for other tools: a Keras .keras (or legacy .h5) file that keras.models.load_model
    opens, with FILE-stem.preprocessing.json beside it, or ONNX. Both record nntrain's version, the run and the epoch.

    \b
    Examples:
      nntrain export runs/iris -o iris.keras
      nntrain export runs/iris --checkpoint last --format onnx -o iris.onnx
    """
    from nntrain.commands.export import export as export_run

    result = _guard(export_run, run, output, fmt=fmt, checkpoint=checkpoint, preprocessing=preprocessing)
    render.emit_json(result) if json_out else render.export_report(result)


@app.command("import")
def import_(model: Path = typer.Argument(..., metavar="MODEL", help="A Keras model file: .keras, or legacy .h5."),
            output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE",
                                                  help="Write the config here (default: print it).")):
    """A Keras model's architecture as an nntrain config's model section (layers nntrain lacks are refused,
    naming them). Then `nntrain fit CONFIG --weights MODEL` starts from its weights.

    \b
    Example:
      nntrain import my_model.keras -o config.yaml
    """
    from nntrain.commands.keras_import import import_model

    result = _guard(import_model, model, output)
    sys.stdout.write(result.text) if output is None else print(f"wrote {output}: the model section "
                                                               f"({result.layers} layers)")
